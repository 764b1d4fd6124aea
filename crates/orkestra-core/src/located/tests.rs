use super::*;

#[track_caller]
fn check(text: &str, offset: usize, expected: (usize, usize)) {
    let position = Position::of_offset(text, offset);
    assert_eq!(
        (position.line, position.column),
        expected,
        "{text:?} at {offset}"
    );
}

#[test]
fn positions_are_one_based_lines_and_character_columns() {
    check("", 0, (1, 1));
    check("abc", 2, (1, 3));
    check("a\nbc", 2, (2, 1));
    check("a\nbc", 3, (2, 2));
    // Columns count characters: `é` is two bytes, one column.
    check("é = 1", 3, (1, 3));
    // Past the end is the end; inside a character is that character.
    check("ab", 99, (1, 3));
    check("é", 1, (1, 1));
}

#[test]
fn display_leaves_out_what_is_unknown() {
    let bare = Located::new("orkestra.toml", "expected a table");
    assert_eq!(bare.to_string(), "orkestra.toml: expected a table");
    let keyed = bare.clone().key("routing.max_models");
    assert_eq!(
        keyed.to_string(),
        "orkestra.toml: routing.max_models: expected a table"
    );
    let placed = keyed.at(Position {
        line: 3,
        column: 14,
    });
    assert_eq!(
        placed.to_string(),
        "orkestra.toml:3:14: routing.max_models: expected a table"
    );
}
