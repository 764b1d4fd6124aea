use super::*;

fn key(number: u64) -> RequestKey<'static> {
    RequestKey {
        seed: 7,
        model: "m",
        number,
    }
}

#[track_caller]
fn check_chunks(text: &str, expected: &[&str]) {
    assert_eq!(token_chunks(text), expected);
    assert_eq!(token_chunks(text).concat(), text);
}

#[test]
fn chunks_are_four_characters_on_character_boundaries() {
    check_chunks("", &[]);
    check_chunks("abc", &["abc"]);
    check_chunks("abcdefgh", &["abcd", "efgh"]);
    check_chunks("héllo wörld", &["héll", "o wö", "rld"]);
}

#[test]
fn generated_text_has_exactly_the_token_count() {
    for tokens in [0, 1, 2, 17, 200] {
        let text = generate(tokens, &mut key(1).rng(Purpose::Text));
        assert_eq!(estimate(&text), tokens as usize, "{text}");
        assert_eq!(token_chunks(&text).len(), tokens as usize);
    }
}

#[test]
fn usage_is_about_four_characters_per_token_and_at_least_one() {
    let prompt = Prompt {
        last_user: "",
        chars: 0,
        max_tokens: None,
    };
    let empty = answer(&Output::Echo, "", None, &prompt, &key(1));
    assert_eq!((empty.prompt_tokens, empty.completion_tokens), (1, 1));
    assert_eq!(tokens_for_chars(9), 3);
}

#[test]
fn a_preface_comes_before_every_answer_and_is_part_of_it() {
    let prompt = Prompt {
        last_user: "hello",
        chars: 5,
        max_tokens: None,
    };
    let prefaced = answer(&Output::Echo, "[simulated] ", None, &prompt, &key(1));
    assert_eq!(prefaced.text, "[simulated] hello");
    // 17 characters: five tokens of about four characters.
    assert_eq!(prefaced.completion_tokens, 5);
    let generated = answer_text(&Output::Generated { tokens: 3 }, "[simulated] ");
    assert!(generated.starts_with("[simulated] "), "{generated}");
    assert_eq!(
        generated.strip_prefix("[simulated] ").map(estimate),
        Some(3),
        "the generated words keep their count"
    );
    let limited = Prompt {
        max_tokens: Some(2),
        ..prompt
    };
    let cut = answer(&Output::Echo, "[simulated] ", None, &limited, &key(1));
    assert_eq!(cut.text, "[simulat");
    assert_eq!(cut.finish, Finish::Length);
}

fn answer_text(output: &Output, preface: &str) -> String {
    let prompt = Prompt {
        last_user: "",
        chars: 0,
        max_tokens: None,
    };
    answer(output, preface, None, &prompt, &key(1)).text
}

#[test]
fn rates_draw_from_the_request_key_alone() {
    let rules = [FaultRule {
        fault: Fault::Reset,
        when: Trigger::Rate(0.3),
    }];
    let pattern = |seed| {
        (1..=200)
            .map(|number| {
                let key = RequestKey {
                    seed,
                    model: "m",
                    number,
                };
                select_fault(&rules, &key, Duration::ZERO).is_some()
            })
            .collect::<Vec<_>>()
    };
    let first = pattern(1);
    assert_eq!(pattern(1), first);
    assert_ne!(pattern(2), first);
    let fired = first.iter().filter(|fired| **fired).count();
    assert!(
        (30..=90).contains(&fired),
        "{fired} of 200 at a rate of 0.3"
    );
}

#[test]
fn flapping_follows_its_schedule() {
    let rules = [FaultRule {
        fault: Fault::Reset,
        when: Trigger::Flapping {
            down: Duration::from_mins(1),
            up: Some(Duration::from_secs(30)),
        },
    }];
    let at = |seconds| select_fault(&rules, &key(1), Duration::from_secs(seconds)).is_some();
    assert_eq!(
        [at(0), at(59), at(60), at(89), at(90), at(149), at(150)],
        [true, true, false, false, true, true, false]
    );
}

#[test]
fn samples_stay_in_range_and_never_overflow() {
    let mut rng = key(1).rng(Purpose::Latency);
    let uniform = Latency::Uniform {
        min: Duration::from_millis(5),
        max: Duration::from_millis(10),
    };
    for _ in 0..1000 {
        let sample = sample(&uniform, &mut rng);
        assert!((Duration::from_millis(5)..=Duration::from_millis(10)).contains(&sample));
    }
    let wild = Latency::LogNormal {
        median: Duration::from_secs(1000),
        sigma: 50.0,
    };
    for _ in 0..1000 {
        assert!(sample(&wild, &mut rng) <= MAX_LATENCY);
    }
    assert!(is_zero(&Latency::default()));
    assert!(!is_zero(&uniform));
}
