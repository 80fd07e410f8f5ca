//! A server that stops answering: `--stall-get-rate P` makes a fraction of GetObject
//! requests hang after they are read, before any response byte, for as long as the client
//! keeps the connection (the client's read timeout is what ends them).
//!
//! GetObject requests are numbered 0, 1, 2, … in the order the server starts handling them
//! (a numbering of their own). Request `n` draws one number `u` uniform in [0, 1) from
//! ChaCha8 seeded with `--seed` XOR [`SEED_SALT`], stream `n`; `u < P` stalls it.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Keeps these draws apart from the other faults'.
pub const SEED_SALT: u64 = 0x7374_616c_6c5f_6765; // "stall_ge"

/// The command-line option.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StallArgs {
    /// Fraction of GetObject requests that are never answered (the connection stays open).
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub stall_get_rate: f64,
}

/// The stall draws.
#[derive(Debug, Default)]
pub struct Stalls {
    rate: f64,
    seed: u64,
    counter: AtomicU64,
}

impl Stalls {
    pub fn new(args: &StallArgs, seed: u64) -> Stalls {
        Stalls {
            rate: args.stall_get_rate,
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// Whether the next GetObject request stalls (draws its number).
    pub fn draw(&self) -> bool {
        if self.rate <= 0.0 {
            return false;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ SEED_SALT);
        rng.set_stream(n);
        rng.random::<f64>() < self.rate
    }

    /// Never returns: the request is left without an answer.
    pub async fn forever() {
        std::future::pending::<()>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_draws_are_reproducible_and_follow_the_rate() {
        let draws = |rate, seed| {
            let s = Stalls::new(
                &StallArgs {
                    stall_get_rate: rate,
                },
                seed,
            );
            (0..1000).map(|_| s.draw()).collect::<Vec<_>>()
        };
        let a = draws(0.25, 3);
        assert_eq!(a, draws(0.25, 3));
        assert_ne!(a, draws(0.25, 4));
        let n = a.iter().filter(|&&d| d).count();
        assert!((150..350).contains(&n), "{n}");
        assert!(draws(1.0, 0).iter().all(|&d| d));
        assert!(!draws(0.0, 0).iter().any(|&d| d));
    }
}
