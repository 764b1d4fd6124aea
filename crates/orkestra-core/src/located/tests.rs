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

#[track_caller]
fn check_words(serde: &str, syntax: Syntax, plain: &str) {
    assert_eq!(plain_words(serde, syntax), plain, "{serde}");
}

#[test]
fn rust_types_are_said_as_what_to_write() {
    check_words(
        "invalid type: string \"four\", expected usize",
        Syntax::Toml,
        "expected a whole number, 0 or more, got the string \"four\"",
    );
    check_words(
        "invalid value: integer `-1`, expected u32",
        Syntax::Toml,
        "expected a whole number, 0 or more, got the number -1",
    );
    check_words(
        "invalid type: floating point `1.5`, expected i64",
        Syntax::Json,
        "expected a whole number, got the number 1.5",
    );
    check_words(
        "invalid type: boolean `true`, expected f64",
        Syntax::Toml,
        "expected a number, got true",
    );
    check_words(
        "invalid type: integer `1`, expected a string",
        Syntax::Toml,
        "expected a string in quotes, got the number 1",
    );
    check_words(
        "invalid type: string \"x\", expected a sequence",
        Syntax::Json,
        "expected a list, got the string \"x\"",
    );
    check_words(
        "invalid type: sequence, expected struct ServerConfig",
        Syntax::Toml,
        "expected a table, got a list",
    );
    check_words(
        "invalid type: map, expected a boolean",
        Syntax::Json,
        "expected true or false, got an object",
    );
    check_words(
        "invalid type: unit value, expected a string",
        Syntax::Json,
        "expected a string, got null",
    );
    check_words(
        "invalid value: string \"5 parsecs\", expected a duration",
        Syntax::Toml,
        "expected a duration such as \"250ms\", \"30s\" or \"5m\", got the string \"5 parsecs\"",
    );
}

#[test]
fn unknown_names_list_what_is_allowed_and_suggest_the_closest() {
    check_words(
        "unknown field `lisen`, expected one of `listen`, `body_limit`, `shutdown_grace`",
        Syntax::Toml,
        "unknown key `lisen` (did you mean `listen`?); expected one of `listen`, `body_limit`, `shutdown_grace`",
    );
    check_words(
        "unknown field `api_key`, expected one of `kind`, `base_url`",
        Syntax::Toml,
        "unknown key `api_key`; expected one of `kind`, `base_url`",
    );
    check_words(
        "unknown field `x`, expected `y`",
        Syntax::Json,
        "unknown field `x` (did you mean `y`?); the only one allowed is `y`",
    );
    check_words(
        "unknown field `x`, there are no fields",
        Syntax::Toml,
        "unknown key `x`; no keys are allowed here",
    );
    check_words(
        "unknown variant `cheapest`, expected one of `quality`, `cost`, `speed`",
        Syntax::Toml,
        "unknown value `cheapest`; expected one of `quality`, `cost`, `speed`",
    );
    check_words(
        "unknown variant `openia`, expected one of `openai`, `anthropic`",
        Syntax::Toml,
        "unknown value `openia` (did you mean `openai`?); expected one of `openai`, `anthropic`",
    );
}

#[test]
fn missing_and_repeated_keys_are_named() {
    check_words(
        "missing field `kind`",
        Syntax::Toml,
        "the key `kind` is required",
    );
    check_words(
        "missing field `messages`",
        Syntax::Json,
        "the field `messages` is required",
    );
    check_words(
        "duplicate field `id`",
        Syntax::Toml,
        "the key `id` is given twice",
    );
}

#[test]
fn other_messages_are_kept_as_they_are() {
    check_words(
        "unclosed table, expected `]`",
        Syntax::Toml,
        "unclosed table, expected `]`",
    );
    check_words("a custom problem\n", Syntax::Json, "a custom problem");
}

#[test]
fn json_errors_are_placed_at_their_line_and_column() {
    let error = serde_json::from_str::<Vec<u32>>("[1,\n \"two\"]").unwrap_err();
    assert_eq!(
        Located::json("list.json", &error).to_string(),
        "list.json:2:6: expected a whole number, 0 or more, got the string \"two\""
    );
}
