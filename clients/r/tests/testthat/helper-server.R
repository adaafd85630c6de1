# Tests that need the server call this first: it skips without one, or fails when CI requires it.
needs_server <- function() {
  missing <- polytrack_test_server$missing
  if (is.null(missing)) {
    polytrack_set_tracking_uri(polytrack_test_server$url)
    return(invisible(TRUE))
  }
  if (identical(Sys.getenv("POLYTRACK_TEST_REQUIRE_SERVICES"), "1")) {
    stop("POLYTRACK_TEST_REQUIRE_SERVICES=1 but ", missing)
  }
  testthat::skip(missing)
}

unique_name <- function(prefix = "r") {
  paste0(prefix, "-", paste(sample(c(letters, 0:9), 12, replace = TRUE), collapse = ""))
}

# A fresh experiment made current, for tests that start runs.
fresh_experiment <- function() {
  id <- polytrack_set_experiment(unique_name("r-exp"))
  while (!is.null(polytrack_active_run())) polytrack_end_run()
  id
}
