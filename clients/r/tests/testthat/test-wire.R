# The JSON the package sends and how it reads replies: no server needed.

encode <- function(fields, type) polytrack:::.pt_to_json(polytrack:::.pt_encode_message(fields, type))
decode <- function(text, type) polytrack:::.pt_decode_message(polytrack:::.pt_parse_json(text), type)

test_that("numbers stay numbers and int64 values are exact", {
  json <- encode(list(run_id = "r", key = "m", value = 0.1, timestamp = 1700000000123, step = 9007199254740991),
                 "polytrack.v1.LogMetricRequest")
  expect_equal(json, '{"run_id":"r","key":"m","value":0.1,"timestamp":1700000000123,"step":9007199254740991}')
  json <- encode(list(step = "9007199254740993"), "polytrack.v1.LogMetricRequest")
  expect_equal(json, '{"step":9007199254740993}')
})

test_that("doubles keep full precision", {
  json <- encode(list(value = 1 / 3), "polytrack.v1.LogMetricRequest")
  expect_equal(as.numeric(sub('.*:(.*)}', "\\1", json)), 1 / 3)
  expect_equal(encode(list(value = 1e300), "polytrack.v1.LogMetricRequest"), '{"value":1e+300}')
})

test_that("NaN and infinities travel as strings, both ways", {
  expect_equal(encode(list(value = NaN), "polytrack.v1.LogMetricRequest"), '{"value":"NaN"}')
  expect_equal(encode(list(value = Inf), "polytrack.v1.LogMetricRequest"), '{"value":"Infinity"}')
  expect_equal(encode(list(value = -Inf), "polytrack.v1.LogMetricRequest"), '{"value":"-Infinity"}')
  metric <- decode('{"key":"m","value":"NaN","step":9007199254740993,"timestamp":5}', "polytrack.v1.Metric")
  expect_true(is.nan(metric$value))
  expect_identical(metric$step, "9007199254740993")
  expect_identical(metric$timestamp, 5)
  expect_identical(decode('{"value":"-Infinity"}', "polytrack.v1.Metric")$value, -Inf)
})

test_that("repeated fields are arrays even with one element", {
  expect_equal(encode(list(experiment_ids = "1"), "polytrack.v1.SearchRunsRequest"), '{"experiment_ids":["1"]}')
  expect_equal(encode(list(experiment_ids = character(0)), "polytrack.v1.SearchRunsRequest"), '{"experiment_ids":[]}')
  tags <- encode(list(name = "e", tags = list(key = "a", value = "b")), "polytrack.v1.CreateExperimentRequest")
  expect_equal(tags, '{"name":"e","tags":[{"key":"a","value":"b"}]}')
})

test_that("data frames are rows of repeated messages, NA cells unset", {
  frame <- data.frame(key = c("a", "b"), value = c(1, NA), step = c(1, 2), stringsAsFactors = FALSE)
  json <- encode(list(metrics = frame), "polytrack.v1.LogBatchRequest")
  expect_equal(json, '{"metrics":[{"key":"a","value":1,"step":1},{"key":"b","step":2}]}')
})

test_that("lowerCamelCase names are accepted and unknown fields refused", {
  expect_equal(encode(list(runId = "x"), "polytrack.v1.GetRunRequest"), '{"run_id":"x"}')
  expect_error(encode(list(nope = 1), "polytrack.v1.GetRunRequest"), class = "polytrack_error")
})

test_that("bad values are refused with the field named", {
  error <- tryCatch(encode(list(step = 1.5), "polytrack.v1.LogMetricRequest"), polytrack_error = identity)
  expect_match(conditionMessage(error), "step: expected a whole number")
  expect_identical(error$error_code, "INVALID_PARAMETER_VALUE")
  expect_error(encode(list(value = NA_real_), "polytrack.v1.LogMetricRequest"), "NA is not a value")
  expect_error(encode(list(key = c("a", "b")), "polytrack.v1.LogMetricRequest"), "expected one value")
})

test_that("repeated scalars decode to vectors, empty messages to empty lists", {
  response <- decode('{"model_version":{"aliases":["a","b"],"version":"1"}}', "polytrack.v1.GetModelVersionResponse")
  expect_identical(response$model_version$aliases, c("a", "b"))
  expect_length(decode("{}", "polytrack.v1.LogBatchResponse"), 0)
})

test_that("path templates are filled with each segment escaped and dot segments kept", {
  filled <- polytrack:::.pt_fill_path("/x/{path=**}", list(path = "a b/../c", other = 1))
  expect_identical(filled$path, "/x/a%20b/%2E%2E/c")
  expect_identical(names(filled$fields), "other")
})

test_that("every RPC with a REST binding has its generated function", {
  rpcs <- polytrack:::.pt_rpcs
  expect_gt(length(rpcs), 40)
  for (name in names(rpcs)) {
    fn <- get(rpcs[[name]]$fn, envir = asNamespace("polytrack"))
    fields <- names(polytrack:::.pt_messages[[rpcs[[name]]$request]])
    expect_identical(names(formals(fn)), c(fields, ".client"), info = name)
  }
})

test_that("tracking URIs must be http(s)", {
  expect_error(polytrack_client("sqlite:///x.db"), class = "polytrack_error")
  expect_error(polytrack_set_tracking_uri("file:///tmp"), "not an http")
})
