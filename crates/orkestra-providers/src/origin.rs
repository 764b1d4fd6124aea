//! [`Origin`]: what every error of a client says about where it came from.

use std::sync::Arc;

use orkestra_core::Error;

use crate::secret::Secret;

/// A client's provider name and key: every error it returns names the provider (and the model,
/// when there is one), and never shows the key, even when the server quoted it.
#[derive(Debug)]
pub(crate) struct Origin {
    provider: String,
    key: Option<Secret>,
}

impl Origin {
    /// The origin of a client named `provider` sending `key`.
    pub(crate) fn new(provider: impl Into<String>, key: Option<Secret>) -> Arc<Self> {
        Arc::new(Self {
            provider: provider.into(),
            key,
        })
    }

    /// The provider's name.
    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }

    /// `error` naming this provider and `model`, with the key redacted from its message.
    pub(crate) fn apply(&self, mut error: Error, model: Option<&str>) -> Error {
        if let Some(key) = &self.key
            && let std::borrow::Cow::Owned(redacted) = key.redact(&error.message)
        {
            error.message = redacted;
        }
        error = error.with_provider(self.provider.as_str());
        match model {
            Some(model) => error.with_model(model),
            None => error,
        }
    }

    /// [`Origin::apply`] for `model`, as a function a stream can keep after the call returns.
    pub(crate) fn for_stream(
        self: &Arc<Self>,
        model: &str,
    ) -> impl Fn(Error) -> Error + Send + Sync + 'static {
        let origin = Arc::clone(self);
        let model: Box<str> = model.into();
        move |error| origin.apply(error, Some(&model))
    }
}
