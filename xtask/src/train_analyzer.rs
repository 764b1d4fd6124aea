//! `cargo xtask train-analyzer [--check] [--folds N]`: trains the task analyzer's kind model
//! from the tuning fixture, and `cargo xtask analyzer-eval FILE...`: the analyzer's accuracy on
//! any labelled file.
//!
//! The model is an averaged perceptron over the hashed features `TaskAnalyzer::kind_features`
//! gives. Training uses integers only and visits the prompts in an order drawn from a fixed
//! seed, so the same fixture always gives the same bytes and `--check` can insist on it. Only
//! `prompts.jsonl` (the tuning split) is read; `untouched.jsonl` never is (see the fixture's
//! README).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use orkestra_models::TaskAnalyzer;
use orkestra_models::analyzer::labelled::{self, Labelled, Report};
use orkestra_models::analyzer::{BUCKETS, DENSE, encode_model};

const KINDS: usize = orkestra_models::TaskKind::COUNT;

/// The tuning split, relative to the workspace root.
const TUNING: &str = "crates/orkestra-models/tests/fixtures/analyzer/prompts.jsonl";
/// The shipped model, relative to the workspace root.
const MODEL: &str = "crates/orkestra-models/src/analyzer/model.bin";

/// Passes over the tuning set.
const EPOCHS: u32 = 12;
/// An update happens unless the right kind leads the best wrong one by more than this.
const MARGIN: i64 = 8;
/// The seed of the order the prompts are visited in.
const SEED: u64 = 0x6f72_6b65_7374_7261;
/// The weight magnitude, as a share of the largest, that maps to the largest byte: the few
/// larger weights saturate, so the many small ones keep their resolution.
const CLIP_PERMILLE: usize = 998;

/// One prompt as the trainer sees it: its feature slots and its kind.
struct Example {
    slots: Vec<(u32, i32)>,
    kind: usize,
    /// Written before the split, when the cues were tuned on it: cross-validation reports the
    /// later prompts apart, as the fairer figure.
    pre_split: bool,
    /// Where it came from, for the list of cross-validation misses.
    line: usize,
    excerpt: String,
}

/// Prompts of the tuning split written before the split was decided.
const PRE_SPLIT: usize = 252;

/// Trains the model; with `check`, fails if it differs from the shipped one instead of writing
/// it. With `folds`, first reports the accuracy of that many cross-validation folds.
pub(crate) fn run(root: &Path, check: bool, folds: Option<u32>) -> anyhow::Result<()> {
    let path = root.join(TUNING);
    let labelled = read(&path)?;
    let analyzer = TaskAnalyzer::new();
    let examples: Vec<Example> = labelled
        .iter()
        .map(|item| {
            let mut slots = Vec::new();
            analyzer.kind_features(&item.request, &mut slots);
            Example {
                slots,
                kind: item.kind as usize,
                pre_split: item.line <= PRE_SPLIT,
                line: item.line,
                excerpt: labelled::excerpt(&item.request),
            }
        })
        .collect();
    if let Some(folds) = folds {
        cross_validate(&examples, folds);
    }
    let all: Vec<&Example> = examples.iter().collect();
    let (weights, temperature, _) = train(&all);
    let bytes = encode(&weights, temperature);
    let model = root.join(MODEL);
    if check {
        let shipped =
            std::fs::read(&model).with_context(|| format!("reading {}", model.display()))?;
        if shipped != bytes {
            bail!(
                "{MODEL} differs from a model trained on {TUNING}: run `cargo xtask train-analyzer` and commit it"
            );
        }
        println!(
            "{MODEL} is what {TUNING} trains ({} prompts)",
            examples.len()
        );
    } else {
        std::fs::write(&model, &bytes).with_context(|| format!("writing {}", model.display()))?;
        println!(
            "trained on {} prompts of {TUNING}: {MODEL}, {} bytes, temperature {temperature}",
            examples.len(),
            bytes.len()
        );
    }
    Ok(())
}

/// Prints the analyzer's accuracy on each labelled file; with `misses`, every miss too.
pub(crate) fn eval(files: &[std::path::PathBuf], misses: bool) -> anyhow::Result<()> {
    let analyzer = TaskAnalyzer::new();
    for file in files {
        let labelled = read(file)?;
        let mut report = if misses {
            Report::with_misses()
        } else {
            Report::default()
        };
        report.score(&analyzer, &labelled);
        println!("{} ({} prompts)\n{report}", file.display(), labelled.len());
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    labelled::parse(&text).map_err(|err| anyhow::anyhow!("{}:{err}", path.display()))
}

/// A small deterministic generator for the visiting order (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Shuffles `items` in place (Fisher-Yates).
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.next() % (i as u64 + 1)).unwrap_or(0);
            items.swap(i, j);
        }
    }
}

fn scores(weights: &[[i64; KINDS]], slots: &[(u32, i32)]) -> [i64; KINDS] {
    let mut scores = [0; KINDS];
    for &(slot, value) in slots {
        for (score, weight) in scores.iter_mut().zip(&weights[slot as usize]) {
            *score += weight * i64::from(value);
        }
    }
    scores
}

fn argmax(scores: &[i64; KINDS]) -> usize {
    let mut best = 0;
    for (index, &score) in scores.iter().enumerate() {
        if score > scores[best] {
            best = index;
        }
    }
    best
}

/// Trains on `examples`; returns the quantised weights and the softmax temperature.
fn train(examples: &[&Example]) -> (Vec<[i64; KINDS]>, u32, Vec<[i64; KINDS]>) {
    let mut weights = vec![[0_i64; KINDS]; BUCKETS + DENSE];
    // The averaged perceptron's running sums: the average is `weights - totals / steps`.
    let mut totals = vec![[0_i64; KINDS]; BUCKETS + DENSE];
    let mut steps: i64 = 1;
    let mut rng = Rng(SEED);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    for _ in 0..EPOCHS {
        rng.shuffle(&mut order);
        for &index in &order {
            let example = examples[index];
            let mut scored = scores(&weights, &example.slots);
            let right = scored[example.kind];
            scored[example.kind] = i64::MIN;
            let wrong = argmax(&scored);
            if right - scored[wrong] <= MARGIN {
                for &(slot, value) in &example.slots {
                    let value = i64::from(value);
                    let (row, total) = (&mut weights[slot as usize], &mut totals[slot as usize]);
                    row[example.kind] += value;
                    row[wrong] -= value;
                    total[example.kind] += steps * value;
                    total[wrong] -= steps * value;
                }
            }
            steps += 1;
        }
    }
    // `steps` times the average, kept in integers.
    let averaged: Vec<[i64; KINDS]> = weights
        .iter()
        .zip(&totals)
        .map(|(row, total)| std::array::from_fn(|kind| row[kind] * steps - total[kind]))
        .collect();
    let quantised = quantise(&averaged);
    let temperature = temperature(&quantised, examples);
    (quantised, temperature, averaged)
}

/// Maps weights to the model's integers: the [`CLIP_PERMILLE`] quantile of the hashed
/// features' non-zero magnitudes becomes 127 (larger ones saturate there); the dense features
/// keep the same scale in 16 bits.
fn quantise(weights: &[[i64; KINDS]]) -> Vec<[i64; KINDS]> {
    let mut magnitudes: Vec<i64> = weights[..BUCKETS]
        .iter()
        .flatten()
        .map(|weight| weight.abs())
        .filter(|&weight| weight > 0)
        .collect();
    magnitudes.sort_unstable();
    let clip = magnitudes
        .get(magnitudes.len() * CLIP_PERMILLE / 1000)
        .copied()
        .unwrap_or(1)
        .max(1);
    weights
        .iter()
        .enumerate()
        .map(|(slot, row)| {
            let limit = if slot < BUCKETS {
                127
            } else {
                i64::from(i16::MAX)
            };
            std::array::from_fn(|kind| {
                ((row[kind] * 127 + row[kind].signum() * clip / 2) / clip).clamp(-limit, limit)
            })
        })
        .collect()
}

/// The model file of quantised weights.
fn encode(weights: &[[i64; KINDS]], temperature: u32) -> Vec<u8> {
    let narrow = |weight: i64| i8::try_from(weight).unwrap_or(0);
    let wide = |weight: i64| i16::try_from(weight).unwrap_or(0);
    let hashed: Vec<[i8; KINDS]> = weights[..BUCKETS]
        .iter()
        .map(|row| std::array::from_fn(|kind| narrow(row[kind])))
        .collect();
    let dense: Vec<[i16; KINDS]> = weights[BUCKETS..]
        .iter()
        .map(|row| std::array::from_fn(|kind| wide(row[kind])))
        .collect();
    encode_model(&hashed, &dense, temperature)
}

/// The mean lead of the winner over the runner-up on the training set, halved: a typical lead
/// then reads as a probability of about 0.85.
fn temperature(weights: &[[i64; KINDS]], examples: &[&Example]) -> u32 {
    let mut lead_sum = 0_i64;
    for example in examples {
        let mut scored = scores(weights, &example.slots);
        let best = argmax(&scored);
        let top = scored[best];
        scored[best] = i64::MIN;
        lead_sum += top - scored[argmax(&scored)];
    }
    let count = i64::try_from(examples.len().max(1)).unwrap_or(1);
    u32::try_from(lead_sum / count / 2).unwrap_or(1).max(1)
}

/// Trains on all folds but one and tests on that one, for each fold; prints the accuracy.
fn cross_validate(examples: &[Example], folds: u32) {
    let folds = usize::try_from(folds.max(2)).unwrap_or(2);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    Rng(SEED ^ 1).shuffle(&mut order);
    let mut right = 0;
    let mut raw_right = 0;
    let mut later = (0_usize, 0_usize);
    let mut misses = String::new();
    let mut per_kind = [(0_usize, 0_usize); KINDS];
    for fold in 0..folds {
        let train_set: Vec<&Example> = order
            .iter()
            .enumerate()
            .filter(|(at, _)| at % folds != fold)
            .map(|(_, &index)| &examples[index])
            .collect();
        let (widened, _, raw) = train(&train_set);
        for (_, &index) in order
            .iter()
            .enumerate()
            .filter(|(at, _)| at % folds == fold)
        {
            let example = &examples[index];
            let hit = argmax(&scores(&widened, &example.slots)) == example.kind;
            raw_right += usize::from(argmax(&scores(&raw, &example.slots)) == example.kind);
            if !example.pre_split {
                later.0 += usize::from(hit);
                later.1 += 1;
            }
            if !hit {
                let got = argmax(&scores(&widened, &example.slots));
                let _ = writeln!(
                    misses,
                    "  line {:>4}: want {:<16} got {:<16} {}",
                    example.line,
                    orkestra_models::TaskKind::ALL[example.kind].as_str(),
                    orkestra_models::TaskKind::ALL[got].as_str(),
                    example.excerpt
                );
            }
            right += usize::from(hit);
            per_kind[example.kind].0 += usize::from(hit);
            per_kind[example.kind].1 += 1;
        }
    }
    let mut line = String::new();
    for (kind, (hits, total)) in orkestra_models::TaskKind::ALL.iter().zip(per_kind) {
        let _ = write!(line, " {}={hits}/{total}", kind.as_str());
    }
    println!(
        "{folds}-fold cross-validation on the tuning set: {right} of {} right ({:.1}%), {raw_right} before quantising; written after the split: {} of {} ({:.1}%)\n {line}",
        examples.len(),
        100.0 * right as f64 / examples.len().max(1) as f64,
        later.0,
        later.1,
        100.0 * later.0 as f64 / later.1.max(1) as f64
    );
    println!("misses:\n{misses}");
}
