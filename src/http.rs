//! The HTTP client set-up shared by `bench serve`, `server wait` and the eval
//! proxy: https endpoints need a rustls crypto provider installed once per
//! process (plain http does not use it), and a failure to build is an
//! environment error.

use crate::error::{Error, Result};

/// Builds a client from `builder` after making sure a crypto provider is installed.
pub(crate) fn client(builder: reqwest::ClientBuilder) -> Result<reqwest::Client> {
    // Err only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    builder
        .build()
        .map_err(|e| Error::env(format!("cannot build the HTTP client: {e}")))
}
