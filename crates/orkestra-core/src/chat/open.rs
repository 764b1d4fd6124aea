//! Reading the chat types that keep unknown fields, without `#[serde(flatten)]`.
//!
//! serde's `flatten` buffers every field of an object into an intermediate tree (allocating a
//! copy of each key and string) before reading it, which on the gateway's hot path cost about
//! as much as parsing the JSON itself. [`deserialize_open!`] writes the visitor serde writes
//! for a closed struct, with one change: a key that is no field goes into `extra`, read as its
//! JSON value. Errors are serde's own (`missing field`, `duplicate field`, the field's type).
//! Serialization stays derived: `flatten` costs little when writing.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A JSON object key, borrowed from the input when it has no escapes: what a hand-written
/// visitor reads keys as, so that known keys cost no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key<'de>(pub Cow<'de, str>);

impl Key<'_> {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key, owned (an unknown field's name, kept).
    pub fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;

        impl<'de> Visitor<'de> for Keys {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }

            fn visit_string<E: de::Error>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }

        deserializer.deserialize_str(Keys)
    }
}

/// `impl Deserialize` for a struct whose unknown keys go into its `extra` map.
///
/// Each field is `name: "wire name" (when missing)`, where "when missing" is `required`
/// (a `missing field` error), `default` (`Default::default()`) or `default = expression`.
/// A `null` reads as `None` for an `Option` field, as serde's derive does.
macro_rules! deserialize_open {
    ($name:ident, $expecting:literal, { $( $field:ident : $wire:literal ( $($missing:tt)+ ) ),+ $(,)? }) => {
        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                struct Fields;

                impl<'de> ::serde::de::Visitor<'de> for Fields {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> ::std::result::Result<$name, A::Error> {
                        $( let mut $field = None; )+
                        let mut extra = ::serde_json::Map::new();
                        while let Some(key) = map.next_key::<$crate::chat::Key<'de>>()? {
                            match key.as_str() {
                                $(
                                    $wire => {
                                        if $field.is_some() {
                                            return Err(<A::Error as ::serde::de::Error>::duplicate_field($wire));
                                        }
                                        $field = Some(map.next_value()?);
                                    }
                                )+
                                _ => {
                                    let value = map.next_value()?;
                                    extra.insert(key.into_string(), value);
                                }
                            }
                        }
                        Ok($name {
                            $( $field: match $field {
                                Some(value) => value,
                                None => deserialize_open!(@missing A, $wire, $($missing)+),
                            }, )+
                            extra,
                        })
                    }
                }

                deserializer.deserialize_map(Fields)
            }
        }
    };
    (@missing $access:ident, $wire:literal, required) => {
        return Err(<$access::Error as ::serde::de::Error>::missing_field($wire))
    };
    (@missing $access:ident, $wire:literal, default) => {
        ::std::default::Default::default()
    };
    (@missing $access:ident, $wire:literal, default = $value:expr) => {
        $value
    };
}

pub(crate) use deserialize_open;
