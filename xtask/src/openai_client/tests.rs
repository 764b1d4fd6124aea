use super::{listening_address, test_config};

#[test]
fn the_test_config_keeps_the_demo_but_stores_nothing() {
    let demo =
        "[storage]\nurl = \"sqlite://orkestra.db?mode=rwc\"\n\n[providers.echo]\nkind = \"echo\"\n";
    let config: toml::Table = test_config(demo).unwrap().parse().unwrap();
    assert_eq!(config["storage"]["url"].as_str(), Some("sqlite::memory:"));
    assert_eq!(config["server"]["listen"].as_str(), Some("127.0.0.1:0"));
    assert_eq!(config["providers"]["echo"]["kind"].as_str(), Some("echo"));
}

#[test]
fn the_address_is_read_from_the_first_line() {
    assert_eq!(
        listening_address("listening on http://127.0.0.1:4000\n").unwrap(),
        "http://127.0.0.1:4000"
    );
    assert!(listening_address("error: bad.toml: line 1\n").is_err());
}
