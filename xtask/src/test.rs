//! `cargo xtask test` (filled in below).
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: &Args) -> Result<()> {
    Ok(())
}
