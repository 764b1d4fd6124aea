#![expect(
    clippy::float_cmp,
    reason = "prices must round-trip exactly, so exact float comparison is the point"
)]

use super::*;

#[track_caller]
fn check_price(usd_per_million: f64, millinanos: u64) {
    let price = TokenPrice::from_usd_per_million(usd_per_million).unwrap();
    assert_eq!(price.millinanos_per_token(), millinanos);
    assert_eq!(price.usd_per_million(), usd_per_million, "round trip");
}

#[test]
fn prices_keep_sub_nano_fractions_and_round_trip() {
    check_price(0.15, 150_000);
    check_price(0.0375, 37_500);
    check_price(15.0, 15_000_000);
    check_price(0.0, 0);
    assert_eq!(
        TokenPrice::from_usd_per_token(1.5e-7).unwrap(),
        TokenPrice::from_usd_per_million(0.15).unwrap()
    );
}

#[test]
fn negative_or_nan_prices_are_refused() {
    assert_eq!(TokenPrice::from_usd_per_million(-0.01), None);
    assert_eq!(TokenPrice::from_usd_per_million(f64::NAN), None);
    assert_eq!(Nanodollars::from_usd(-1.0), None);
    let err = serde_json::from_str::<TokenPrice>("-2.5").unwrap_err();
    assert!(err.to_string().contains("non-negative"), "{err}");
}

#[test]
fn costs_round_up_to_whole_nanodollars() {
    assert_eq!(millinanos_to_nanos(0), Nanodollars(0));
    assert_eq!(millinanos_to_nanos(1), Nanodollars(1));
    assert_eq!(millinanos_to_nanos(37_500), Nanodollars(38));
}

#[test]
fn amounts_display_in_dollars_and_saturate() {
    assert_eq!(Nanodollars(450_000).to_string(), "$0.000450");
    assert_eq!(Nanodollars(12_345_678_900).to_string(), "$12.345678");
    assert_eq!(Nanodollars::MAX + Nanodollars(1), Nanodollars::MAX);
    assert_eq!(
        Nanodollars(1).saturating_sub(Nanodollars(2)),
        Nanodollars::ZERO
    );
    assert_eq!(Nanodollars::from_usd(0.00045), Some(Nanodollars(450_000)));
}
