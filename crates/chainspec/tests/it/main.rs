//! Integration tests of the chain specifications against fixture data.

mod fixture;
mod genesis;
