use std::error::Error as _;
use std::io;

use super::*;

#[test]
fn display_is_one_line_and_does_not_repeat_the_source() {
    let error = Error::from(io::Error::new(io::ErrorKind::ConnectionReset, "peer reset"))
        .with_model("ollama/llama3.1:8b");
    assert_eq!(
        error.to_string(),
        "network: peer reset [model ollama/llama3.1:8b]"
    );
    assert_eq!(error.source().unwrap().to_string(), "peer reset");
    assert_eq!(error.class().category, ErrorCategory::Network);
}
