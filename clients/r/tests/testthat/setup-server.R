# Starts one polytrack server for the whole test run (on free ports, with a fresh SQLite store and
# artifact folder) and stops it at the end. The server is `polytrack` from PATH, or the command in
# POLYTRACK_SERVER_COMMAND (e.g. "/usr/bin/python3 -m polytrack.cli"). Without one the tests that
# need it skip, unless POLYTRACK_TEST_REQUIRE_SERVICES=1 (as in CI): then they fail.

polytrack_test_server <- new.env(parent = emptyenv())

local({
  command <- Sys.getenv("POLYTRACK_SERVER_COMMAND", "")
  if (!nzchar(command)) command <- Sys.which("polytrack")
  if (!nzchar(command)) {
    polytrack_test_server$missing <- "no polytrack server command (put `polytrack` on PATH or set POLYTRACK_SERVER_COMMAND)"
    return(invisible())
  }
  workdir <- tempfile("polytrack-r-tests-")
  dir.create(workdir)
  log <- file.path(workdir, "server.log")
  pid_file <- file.path(workdir, "server.pid")
  arguments <- c(strsplit(command, " +")[[1]], "server", "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0",
                 "--backend-store-uri", paste0("sqlite:///", file.path(workdir, "db.sqlite")),
                 "--artifacts-destination", file.path(workdir, "artifacts"))
  # A shell starts the server in the background and reports its process id. R's LD_LIBRARY_PATH
  # (with the system library folder first) is dropped: it can make a Python built with a shared
  # libpython load the system's libpython instead of its own, and then miss its site-packages.
  system(sprintf("env -u LD_LIBRARY_PATH %s > %s 2>&1 & echo $! > %s", paste(shQuote(arguments), collapse = " "), shQuote(log),
                 shQuote(pid_file)), wait = TRUE)
  deadline <- Sys.time() + 180  # generous: CI runs suites side by side on 2 cores
  url <- NULL
  while (Sys.time() < deadline) {
    lines <- if (file.exists(log)) readLines(log, warn = FALSE) else character(0)
    ready <- regmatches(lines, regexpr("http://[0-9.]+:[0-9]+", lines))
    if (length(ready) > 0) {
      url <- ready[[1]]
      break
    }
    Sys.sleep(0.1)
  }
  pid <- as.integer(readLines(pid_file, warn = FALSE))
  polytrack_test_server$pid <- pid
  polytrack_test_server$workdir <- workdir
  withr::defer({
    tools::pskill(pid, tools::SIGTERM)
    for (i in 1:50) if (tools::pskill(pid, 0L) == FALSE) break else Sys.sleep(0.1)
    unlink(workdir, recursive = TRUE)
  }, teardown_env())
  if (is.null(url)) {
    polytrack_test_server$missing <- paste0("the polytrack server did not start:\n",
                                            paste(readLines(log, warn = FALSE), collapse = "\n"))
    return(invisible())
  }
  polytrack_test_server$url <- url
  polytrack_set_tracking_uri(url)
})
