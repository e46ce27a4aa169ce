fn main() -> std::process::ExitCode {
    infmax::cli::main()
}
