//! [`CategorySet`]: a set of [`ErrorCategory`] values, one bit each, for policy rules such as
//! "the breaker records these categories as failures" or "the breaker ignores those".

use std::fmt;

use orkestra_core::{ErrorCategory, Resource};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A set of error categories; `resource_exhausted` is one member whatever the resource.
///
/// Serialized as a list of `snake_case` names: `["network", "timeout", "rate_limited"]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CategorySet(u16);

/// Every category, one per bit, in bit order.
const MEMBERS: [ErrorCategory; 12] = [
    ErrorCategory::Network,
    ErrorCategory::Timeout,
    ErrorCategory::RateLimited,
    ErrorCategory::Overloaded,
    ErrorCategory::Auth,
    ErrorCategory::InvalidRequest,
    ErrorCategory::ContextLength,
    ErrorCategory::ContentFilter,
    ErrorCategory::NotFound,
    ErrorCategory::ResourceExhausted(Resource::Other),
    ErrorCategory::Internal,
    ErrorCategory::Cancelled,
];

const fn bit(category: ErrorCategory) -> u16 {
    let index = match category {
        ErrorCategory::Network => 0,
        ErrorCategory::Timeout => 1,
        ErrorCategory::RateLimited => 2,
        ErrorCategory::Overloaded => 3,
        ErrorCategory::Auth => 4,
        ErrorCategory::InvalidRequest => 5,
        ErrorCategory::ContextLength => 6,
        ErrorCategory::ContentFilter => 7,
        ErrorCategory::NotFound => 8,
        ErrorCategory::ResourceExhausted(_) => 9,
        ErrorCategory::Internal => 10,
        // `ErrorCategory` is non-exhaustive; a category added later lands with `Cancelled`
        // until it gets a bit of its own, which the round-trip test would reveal.
        _ => 11,
    };
    1 << index
}

impl CategorySet {
    /// No category.
    pub const EMPTY: Self = Self(0);
    /// Every category.
    pub const ALL: Self = Self((1 << MEMBERS.len()) - 1);

    /// A set of the given categories.
    pub const fn of(categories: &[ErrorCategory]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < categories.len() {
            bits |= bit(categories[i]);
            i += 1;
        }
        Self(bits)
    }

    /// Whether `category` is in the set.
    #[inline]
    pub const fn contains(self, category: ErrorCategory) -> bool {
        self.0 & bit(category) != 0
    }

    /// The set with `category` added.
    #[must_use]
    pub const fn with(self, category: ErrorCategory) -> Self {
        Self(self.0 | bit(category))
    }

    /// The set with `category` removed.
    #[must_use]
    pub const fn without(self, category: ErrorCategory) -> Self {
        Self(self.0 & !bit(category))
    }

    /// Members and non-members alike in one union.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in a fixed order.
    pub fn iter(self) -> impl Iterator<Item = ErrorCategory> {
        MEMBERS.into_iter().filter(move |c| self.contains(*c))
    }

    /// The categories retryable by default: network, timeout, rate-limited, overloaded, internal.
    pub fn default_retryable() -> Self {
        MEMBERS
            .into_iter()
            .filter(|c| c.default_retryable())
            .fold(Self::EMPTY, Self::with)
    }
}

impl FromIterator<ErrorCategory> for CategorySet {
    fn from_iter<I: IntoIterator<Item = ErrorCategory>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl fmt::Debug for CategorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(ErrorCategory::as_str))
            .finish()
    }
}

impl Serialize for CategorySet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for category in self.iter() {
            seq.serialize_element(category.as_str())?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for CategorySet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SetVisitor;

        impl<'de> Visitor<'de> for SetVisitor {
            type Value = CategorySet;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of error categories such as [\"network\", \"timeout\"]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CategorySet, A::Error> {
                let mut set = CategorySet::EMPTY;
                while let Some(name) = seq.next_element::<String>()? {
                    let category = MEMBERS
                        .into_iter()
                        .find(|c| c.as_str() == name)
                        .ok_or_else(|| {
                            de::Error::invalid_value(
                                de::Unexpected::Str(&name),
                                &"one of network, timeout, rate_limited, overloaded, auth, invalid_request, context_length, content_filter, not_found, resource_exhausted, internal, cancelled",
                            )
                        })?;
                    set = set.with(category);
                }
                Ok(set)
            }
        }

        deserializer.deserialize_seq(SetVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_its_own_bit_and_round_trips_by_name() {
        let json = serde_json::to_string(&CategorySet::ALL).unwrap();
        assert_eq!(
            serde_json::from_str::<CategorySet>(&json).unwrap(),
            CategorySet::ALL
        );
        assert_eq!(CategorySet::ALL.iter().count(), MEMBERS.len());
        for category in ErrorCategory::ALL {
            let single = CategorySet::of(&[category]);
            assert!(single.contains(category));
            assert_eq!(single.iter().count(), 1, "{category}");
        }
    }

    #[test]
    fn unknown_names_are_rejected_with_the_list_of_valid_ones() {
        let error = serde_json::from_str::<CategorySet>(r#"["network", "netwrok"]"#).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("netwrok") && message.contains("rate_limited"),
            "{message}"
        );
    }

    #[test]
    fn resource_exhausted_is_one_member_whatever_the_resource() {
        let set = CategorySet::of(&[ErrorCategory::ResourceExhausted(Resource::Memory)]);
        assert!(set.contains(ErrorCategory::ResourceExhausted(Resource::Quota)));
        assert!(!set.contains(ErrorCategory::Internal));
    }
}
