//! The `atsd` binary: parses arguments and hands over to the library.

fn main() {
    std::process::exit(atsd::cli::main(std::env::args_os()));
}
