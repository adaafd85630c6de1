test_that("server errors are polytrack_error conditions with the code and status", {
  needs_server()
  error <- tryCatch(polytrack_get_run("0123456789abcdef0123456789abcdef"), polytrack_error = identity)
  expect_s3_class(error, "polytrack_error")
  expect_s3_class(error, "error")
  expect_identical(error$error_code, "RESOURCE_DOES_NOT_EXIST")
  expect_identical(error$status, 404L)
  error <- tryCatch(polytrack_rpc_search_experiments(max_results = 0), polytrack_error = identity)
  expect_identical(error$error_code, "INVALID_PARAMETER_VALUE")
  expect_identical(error$status, 400L)
})

test_that("an unreachable server is TEMPORARILY_UNAVAILABLE with no status", {
  client <- polytrack_client("http://127.0.0.1:9", timeout = 5)
  error <- tryCatch(polytrack_rpc_get_experiment(experiment_id = "0", .client = client), polytrack_error = identity)
  expect_identical(error$error_code, "TEMPORARILY_UNAVAILABLE")
  expect_true(is.na(error$status))
})

test_that("an error reply without JSON gets a code from its status", {
  needs_server()
  client <- polytrack_client(paste0(polytrack_test_server$url, "/no-such-prefix"))
  error <- tryCatch(polytrack_rpc_get_experiment(experiment_id = "0", .client = client), polytrack_error = identity)
  expect_identical(error$status, 404L)
  expect_true(error$error_code %in% c("ENDPOINT_NOT_FOUND", "RESOURCE_DOES_NOT_EXIST"))
})

test_that("credentials come from the environment and are never printed", {
  withr::with_envvar(c(POLYTRACK_TRACKING_TOKEN = "s3cret", MLFLOW_TRACKING_TOKEN = NA), {
    client <- polytrack_client("http://127.0.0.1:1")
    expect_identical(client$authorization, "Bearer s3cret")
    expect_false(any(grepl("s3cret", capture.output(print(client)))))
  })
  withr::with_envvar(c(POLYTRACK_TRACKING_TOKEN = NA, MLFLOW_TRACKING_TOKEN = NA,
                       POLYTRACK_TRACKING_USERNAME = "u", POLYTRACK_TRACKING_PASSWORD = "p"), {
    expect_identical(polytrack_client("http://127.0.0.1:1")$authorization, "Basic dTpw")
  })
})

test_that("the tracking URI comes from the environment when none is set", {
  previous <- polytrack_set_tracking_uri(NULL)
  on.exit(polytrack_set_tracking_uri(previous))
  withr::with_envvar(c(POLYTRACK_TRACKING_URI = "http://a:1", MLFLOW_TRACKING_URI = "http://b:2"), {
    expect_identical(polytrack_get_tracking_uri(), "http://a:1")
  })
  withr::with_envvar(c(POLYTRACK_TRACKING_URI = NA, MLFLOW_TRACKING_URI = "http://b:2"), {
    expect_identical(polytrack_get_tracking_uri(), "http://b:2")
  })
})

test_that("a metric value that is not a number is refused before anything is sent, naming the metric", {
  needs_server()
  experiment <- polytrack_create_experiment(paste0("bad-values-", as.integer(Sys.time())))
  run <- polytrack_rpc_create_run(experiment_id = experiment)$run
  id <- run$info$run_id
  error <- tryCatch(polytrack_log_metric("loss", "not a number", run_id = id), polytrack_error = identity)
  expect_identical(error$error_code, "INVALID_PARAMETER_VALUE")
  expect_match(conditionMessage(error), "\"not a number\" for metric 'loss'", fixed = TRUE)
  error <- tryCatch(polytrack_log_metrics(list(acc = 0.5, loss = "x"), run_id = id), polytrack_error = identity)
  expect_match(conditionMessage(error), "metric 'loss'", fixed = TRUE)
  frame <- data.frame(key = c("a", "b"), value = c("1", "2"), stringsAsFactors = FALSE)
  error <- tryCatch(polytrack_log_batch(metrics = frame, run_id = id), polytrack_error = identity)
  expect_match(conditionMessage(error), "metric 'a'", fixed = TRUE)
  expect_length(polytrack_get_run(id)$data$metrics, 0)
})
