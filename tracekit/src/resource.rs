//! A tracer's resource attributes, versioned: finished spans read them through
//! [`ResourceCell`] without knowing the tracer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::sync::{read, write};
use crate::{Attributes, Key, Value};

/// The resource attributes a tracer's spans share, and a version bumped on every change.
#[derive(Default)]
pub(crate) struct ResourceCell {
    attributes: RwLock<Arc<Attributes>>,
    /// Bumped (under `attributes`' lock) on every change: spans read only this, and a store
    /// keeps one copy of the attributes per version.
    version: AtomicU64,
}

impl ResourceCell {
    pub(crate) fn attributes(&self) -> Arc<Attributes> {
        Arc::clone(&read(&self.attributes))
    }

    /// The version of the attributes (see `version`).
    #[inline]
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self, key: Key, value: Value) {
        let mut guard = write(&self.attributes);
        Arc::make_mut(&mut guard).insert(key, value);
        self.version.fetch_add(1, Ordering::Release);
    }
}
