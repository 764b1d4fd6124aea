//! Consensus: ask several models the same question in parallel and vote.
//!
//! Each model is called through its own resilience (breaker, timeout, retries) but without
//! fallback: a model that fails casts no vote. Answers are grouped, by exact match after
//! normalisation (majority) or by word overlap (similarity); the largest group wins when it has
//! at least `quorum` votes. Voting stops as soon as a group reaches the quorum or the deadline
//! passes; the answer carries every vote, including the calls still running at that moment.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use orkestra_core::{ChatRequest, ChatResponse, Error, ErrorCategory, ErrorClass};
use orkestra_models::ModelId;
use serde::{Deserialize, Serialize};

use crate::orchestrator::{CallContext, Orchestrator};
use crate::report::CallError;

/// How answers are compared.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Voting {
    /// The same text once case, surrounding space and final punctuation are ignored.
    Majority,
    /// Word sets whose Jaccard similarity is at least `threshold` (0 to 1).
    Similarity {
        /// The least similarity of two agreeing answers.
        threshold: f64,
    },
}

/// A consensus question's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusConfig {
    /// The models asked (ids or aliases); when empty, the `voters` best of the ranking.
    pub models: Vec<String>,
    /// How many of the ranking's best models are asked when `models` is empty.
    pub voters: usize,
    /// Votes the winning answer needs.
    pub quorum: usize,
    /// How long to wait for votes.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// How answers are compared.
    pub voting: Voting,
}

impl Default for ConsensusConfig {
    /// Three voters from the ranking, quorum 2, a 30 s deadline, majority voting.
    fn default() -> Self {
        Self {
            models: Vec::new(),
            voters: 3,
            quorum: 2,
            deadline: Duration::from_secs(30),
            voting: Voting::Majority,
        }
    }
}

/// One model's vote.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    /// The model asked.
    pub model: ModelId,
    /// Its answer's text, or why it has none.
    pub answer: Result<String, ErrorClass>,
    /// How long it took (up to the deadline for a call still running).
    pub latency: Duration,
    /// The index of its group in [`ConsensusAnswer::groups`], for answers.
    pub group: Option<usize>,
}

/// The outcome of a consensus question.
#[derive(Debug, Clone)]
pub struct ConsensusAnswer {
    /// The winning group's first answer, with `model` naming the model that gave it.
    pub response: ChatResponse,
    /// Every vote, in the order the models were asked.
    pub votes: Vec<Vote>,
    /// The size of each group of agreeing answers.
    pub groups: Vec<usize>,
    /// The votes for the winning answer.
    pub agreed: usize,
}

impl Orchestrator {
    /// Asks several models `request` in parallel and returns the answer most of them agree on.
    ///
    /// Fails with `invalid_request` for a quorum larger than the number of voters, and with
    /// `internal` (listing the votes) when no answer reaches the quorum before the deadline.
    pub async fn consensus(
        &self,
        request: &ChatRequest,
        config: &ConsensusConfig,
        context: &CallContext,
    ) -> Result<ConsensusAnswer, CallError> {
        let models = self
            .voters(request, config)
            .map_err(CallError::before_routing)?;
        if config.quorum == 0 || config.quorum > models.len() {
            return Err(CallError::before_routing(Error::new(
                ErrorCategory::InvalidRequest,
                format!(
                    "consensus quorum {} needs between 1 and {} voters",
                    config.quorum,
                    models.len()
                ),
            )));
        }
        let started = Instant::now();
        let mut calls: FuturesUnordered<_> = models
            .iter()
            .enumerate()
            .map(|(index, model)| {
                let mut asked = request.clone();
                model.to_string().clone_into(&mut asked.model);
                async move {
                    let result = self.ask_one(&asked, context).await;
                    (index, result, started.elapsed())
                }
            })
            .collect();
        let mut votes: Vec<Vote> = models
            .iter()
            .map(|model| Vote {
                model: model.clone(),
                answer: Err(ErrorClass::new(ErrorCategory::Timeout)),
                latency: config.deadline,
                group: None,
            })
            .collect();
        let mut responses: Vec<Option<ChatResponse>> = vec![None; models.len()];
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        let deadline = tokio::time::sleep(config.deadline);
        tokio::pin!(deadline);
        loop {
            let (index, result, latency) = tokio::select! {
                next = calls.next() => match next {
                    Some(next) => next,
                    None => break,
                },
                () = &mut deadline => break,
            };
            votes[index].latency = latency;
            match result {
                Ok(completion) => {
                    let text = answer_text(&completion.response);
                    let group = join_group(&mut groups, &text, index, config.voting);
                    votes[index].answer = Ok(text);
                    votes[index].group = Some(group);
                    responses[index] = Some(completion.response);
                    if groups[group].1.len() >= config.quorum {
                        break;
                    }
                }
                Err(error) => votes[index].answer = Err(error.error.class),
            }
        }
        let winner = groups
            .iter()
            .max_by_key(|(_, members)| members.len())
            .filter(|(_, members)| members.len() >= config.quorum);
        let Some((_, members)) = winner else {
            let summary: Vec<String> = votes
                .iter()
                .map(|vote| match &vote.answer {
                    Ok(_) => format!("{}: group {}", vote.model, vote.group.unwrap_or(0) + 1),
                    Err(class) => format!("{}: {}", vote.model, class.category),
                })
                .collect();
            return Err(CallError::before_routing(Error::new(
                ErrorCategory::Internal,
                format!(
                    "no consensus: no answer reached the quorum of {} ({})",
                    config.quorum,
                    summary.join(", ")
                ),
            )));
        };
        let first = members[0];
        let agreed = members.len();
        let response = responses[first].take().ok_or_else(|| {
            CallError::before_routing(Error::new(ErrorCategory::Internal, "lost a vote"))
        })?;
        Ok(ConsensusAnswer {
            response,
            agreed,
            groups: groups.iter().map(|(_, members)| members.len()).collect(),
            votes,
        })
    }

    /// Asks the model `request` names, and only it: its configured fallbacks must not answer
    /// in its name.
    async fn ask_one(
        &self,
        request: &ChatRequest,
        context: &CallContext,
    ) -> Result<crate::report::Completion, CallError> {
        let mut route = self.plan_call(request).map_err(CallError::before_routing)?;
        route.chain.truncate(1);
        self.complete_routed(request, &route, context).await
    }

    fn voters(
        &self,
        request: &ChatRequest,
        config: &ConsensusConfig,
    ) -> Result<Vec<ModelId>, Error> {
        if config.models.is_empty() {
            let route = self.route(request)?;
            if let Some(refusal) = route.refusal() {
                return Err(refusal);
            }
            let ranked = route.selection.map_or(route.chain, |selection| {
                selection.chain().cloned().collect()
            });
            return Ok(ranked
                .into_iter()
                .take(config.voters)
                .map(|spec| spec.id.clone())
                .collect());
        }
        let mut seen = HashSet::new();
        config
            .models
            .iter()
            .map(|name| {
                self.registry()
                    .get(name)
                    .map(|spec| spec.id.clone())
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCategory::NotFound,
                            format!("consensus model `{name}` does not exist"),
                        )
                    })
            })
            .filter(|id| id.as_ref().map_or(true, |id| seen.insert(id.clone())))
            .collect()
    }
}

/// The text of the first choice.
fn answer_text(response: &ChatResponse) -> String {
    response
        .choices
        .first()
        .map(|choice| choice.message.text())
        .unwrap_or_default()
}

/// Puts answer `index` in the first group it agrees with, or a new one; returns the group.
fn join_group(
    groups: &mut Vec<(String, Vec<usize>)>,
    text: &str,
    index: usize,
    voting: Voting,
) -> usize {
    let position = groups.iter().position(|(representative, _)| match voting {
        Voting::Majority => normalise(representative) == normalise(text),
        Voting::Similarity { threshold } => similarity(representative, text) >= threshold,
    });
    if let Some(position) = position {
        groups[position].1.push(index);
        position
    } else {
        groups.push((text.to_owned(), vec![index]));
        groups.len() - 1
    }
}

/// Lowercase, words separated by single spaces, without final punctuation.
fn normalise(text: &str) -> String {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    words
        .join(" ")
        .trim_end_matches(['.', '!', '?', ';', ','])
        .to_owned()
}

/// Jaccard similarity of the two texts' sets of lowercase words.
fn similarity(a: &str, b: &str) -> f64 {
    let words = |text: &str| -> HashSet<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (a, b) = (words(a), words(b));
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let shared = a.intersection(&b).count();
    shared as f64 / (a.len() + b.len() - shared) as f64
}

#[cfg(test)]
mod tests;
