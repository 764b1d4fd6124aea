use super::*;

#[test]
fn placeholder() {
    assert!(import("{}").unwrap().models.is_empty());
}
