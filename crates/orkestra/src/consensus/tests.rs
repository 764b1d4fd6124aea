use super::*;

#[test]
fn majority_ignores_case_space_and_final_punctuation() {
    assert_eq!(
        normalise("  The answer is  42. "),
        normalise("the answer is 42")
    );
    assert_ne!(normalise("42"), normalise("43"));
}

#[test]
fn similarity_is_word_overlap() {
    assert!((similarity("a b c", "a b c") - 1.0).abs() < 1e-9);
    assert!((similarity("a b", "b c") - 1.0 / 3.0).abs() < 1e-9);
    assert!(similarity("paris", "berlin") < 0.1);
}

#[test]
fn answers_join_the_first_group_they_agree_with() {
    let mut groups = Vec::new();
    assert_eq!(join_group(&mut groups, "Paris.", 0, Voting::Majority), 0);
    assert_eq!(join_group(&mut groups, "Berlin", 1, Voting::Majority), 1);
    assert_eq!(join_group(&mut groups, "paris", 2, Voting::Majority), 0);
    assert_eq!(groups[0].1, vec![0, 2]);
}
