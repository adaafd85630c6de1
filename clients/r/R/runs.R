# Runs: start and end them (with with() or on.exit), log to them, search them.

#' Start, end and use runs
#'
#' \code{polytrack_start_run()} creates a run in the current experiment and makes it the active
#' run, which the logging functions use by default. Use the returned run with \code{with()}: the
#' block is evaluated (in the calling environment), then the run ends \code{FINISHED}, or
#' \code{FAILED} if the block signalled an error (re-raised), or \code{KILLED} if it was
#' interrupted. In a function, \code{on.exit(polytrack_end_run())} does the same job.
#'
#' @param run_name Name of the run (NULL: the server picks one).
#' @param experiment_id Experiment of the run (NULL: the current one, see
#'   \code{\link{polytrack_set_experiment}}).
#' @param tags A named list or character vector of tags to set on the run.
#' @param nested Start the run inside the active run (tagged \code{mlflow.parentRunId}) instead
#'   of refusing while a run is active.
#' @param start_time Start time in milliseconds since the epoch (NULL: now).
#' @param status End status: \code{"FINISHED"}, \code{"FAILED"} or \code{"KILLED"}.
#' @param run_id The run to end (NULL: the active run).
#' @param end_time End time in milliseconds since the epoch (NULL: now).
#' @param client The connection (see \code{\link{polytrack_client}}).
#' @param data A \code{polytrack_run}.
#' @param expr The code to run while the run is active.
#' @param x A \code{polytrack_run}.
#' @param ... Ignored.
#' @return \code{polytrack_start_run()} and \code{polytrack_active_run()}: a \code{polytrack_run}
#'   (a list with \code{run_id}, \code{experiment_id}, \code{run_name} and \code{info}), or NULL
#'   when no run is active. \code{with()}: the value of \code{expr}, invisibly.
#' @name polytrack_runs
#' @export
polytrack_start_run <- function(run_name = NULL, experiment_id = NULL, tags = NULL, nested = FALSE,
                                start_time = NULL, client = polytrack_client()) {
  active <- polytrack_active_run()
  if (!is.null(active) && !nested) {
    stop(polytrack_error(sprintf("run %s is already active: end it first, or pass nested = TRUE", active$run_id),
                         "INVALID_STATE"))
  }
  all_tags <- c(list(mlflow.user = Sys.info()[["user"]], mlflow.source.type = "LOCAL"), as.list(tags))
  if (!is.null(active)) all_tags[["mlflow.parentRunId"]] <- active$run_id
  if (is.null(experiment_id)) experiment_id <- .pt_current_experiment_id()
  response <- polytrack_rpc_create_run(
    experiment_id = as.character(experiment_id), run_name = run_name,
    start_time = if (is.null(start_time)) .pt_now_ms() else start_time,
    tags = .pt_key_values(all_tags), .client = client
  )
  run <- .pt_run_object(response$run$info)
  .pt_state$runs <- c(.pt_state$runs, list(run))
  run
}

.pt_run_object <- function(info) {
  structure(list(run_id = info$run_id, experiment_id = info$experiment_id, run_name = info$run_name, info = info),
            class = "polytrack_run")
}

#' @rdname polytrack_runs
#' @export
polytrack_end_run <- function(status = "FINISHED", run_id = NULL, end_time = NULL, client = polytrack_client()) {
  if (is.null(run_id)) {
    active <- polytrack_active_run()
    if (is.null(active)) {
      return(invisible(NULL))
    }
    run_id <- active$run_id
  }
  # Forget the run first: it is no longer active even if the server cannot be told.
  .pt_state$runs <- Filter(function(run) !identical(run$run_id, run_id), .pt_state$runs)
  polytrack_rpc_update_run(run_id = run_id, status = status,
                           end_time = if (is.null(end_time)) .pt_now_ms() else end_time, .client = client)
  invisible(NULL)
}

#' @rdname polytrack_runs
#' @export
polytrack_active_run <- function() {
  runs <- .pt_state$runs
  if (length(runs) == 0) NULL else runs[[length(runs)]]
}

#' @rdname polytrack_runs
#' @export
with.polytrack_run <- function(data, expr, ...) {
  status <- "FAILED"
  on.exit(polytrack_end_run(status = status, run_id = data$run_id), add = TRUE)
  value <- withCallingHandlers(
    eval(substitute(expr), envir = parent.frame()),
    interrupt = function(condition) status <<- "KILLED"
  )
  status <- "FINISHED"
  invisible(value)
}

#' @rdname polytrack_runs
#' @export
print.polytrack_run <- function(x, ...) {
  cat(sprintf("<polytrack_run %s (%s) in experiment %s>\n", x$run_id, x$run_name, x$experiment_id))
  invisible(x)
}

# The run to log to: the given one, else the active run, else a new one (as MLflow's clients do).
.pt_run_id <- function(run_id, client) {
  if (!is.null(run_id)) {
    return(run_id)
  }
  active <- polytrack_active_run()
  if (is.null(active)) active <- polytrack_start_run(client = client)
  active$run_id
}

#' Log params, metrics and tags
#'
#' Each function logs to \code{run_id}, by default the active run (one is started when none is).
#' Params are immutable strings (numbers are written in full); metrics are doubles (NaN, Inf and
#' -Inf included) at a \code{step} (a whole number) and a \code{timestamp} in milliseconds since
#' the epoch (default: now). The plural forms take a named list or vector and send batches.
#' \code{polytrack_log_batch()} takes data frames: \code{metrics} with columns \code{key},
#' \code{value}, and optionally \code{step} and \code{timestamp}; \code{params} and \code{tags}
#' with columns \code{key} and \code{value}, or named lists.
#'
#' @param key Name of the param, metric or tag.
#' @param value Its value.
#' @param params,metrics,tags Named lists or vectors (\code{polytrack_log_batch()}: data frames too).
#' @param step The metric's step.
#' @param timestamp When the metric was measured, in milliseconds since the epoch.
#' @param run_id The run (NULL: the active run).
#' @param client The connection (see \code{\link{polytrack_client}}).
#' @return NULL, invisibly.
#' @name polytrack_logging
#' @export
polytrack_log_param <- function(key, value, run_id = NULL, client = polytrack_client()) {
  polytrack_rpc_log_param(run_id = .pt_run_id(run_id, client), key = key, value = .pt_text(value), .client = client)
  invisible(NULL)
}

#' @rdname polytrack_logging
#' @export
polytrack_log_params <- function(params, run_id = NULL, client = polytrack_client()) {
  polytrack_log_batch(params = params, run_id = run_id, client = client)
}

# Metric values as doubles, refusing what is not one number (R would coerce text to NA with a
# warning, and the error would come later, naming no metric).
.pt_metric_values <- function(keys, values) {
  items <- as.list(values)
  numbers <- vapply(items, function(v) is.numeric(v) && length(v) == 1, TRUE)
  if (!all(numbers)) {
    bad <- which(!numbers)[[1]]
    stop(polytrack_error(sprintf("Got invalid value %s for metric '%s': a number is required",
                                 paste(deparse(items[[bad]]), collapse = " "), keys[[bad]]),
                         "INVALID_PARAMETER_VALUE"))
  }
  as.numeric(unlist(items, use.names = FALSE))
}

#' @rdname polytrack_logging
#' @export
polytrack_log_metric <- function(key, value, step = 0, timestamp = NULL, run_id = NULL, client = polytrack_client()) {
  polytrack_rpc_log_metric(
    run_id = .pt_run_id(run_id, client), key = key, value = .pt_metric_values(key, value),
    timestamp = if (is.null(timestamp)) .pt_now_ms() else timestamp, step = step, .client = client
  )
  invisible(NULL)
}

#' @rdname polytrack_logging
#' @export
polytrack_log_metrics <- function(metrics, step = 0, timestamp = NULL, run_id = NULL, client = polytrack_client()) {
  keys <- names(metrics)
  if (length(metrics) > 0 && (is.null(keys) || any(keys == ""))) {
    stop(polytrack_error("metrics must be a named list or vector", "INVALID_PARAMETER_VALUE"))
  }
  frame <- data.frame(key = keys, value = .pt_metric_values(keys, metrics), step = step,
                      timestamp = if (is.null(timestamp)) .pt_now_ms() else timestamp, stringsAsFactors = FALSE)
  polytrack_log_batch(metrics = frame, run_id = run_id, client = client)
}

#' @rdname polytrack_logging
#' @export
polytrack_set_tag <- function(key, value, run_id = NULL, client = polytrack_client()) {
  polytrack_rpc_set_tag(run_id = .pt_run_id(run_id, client), key = key, value = .pt_text(value), .client = client)
  invisible(NULL)
}

#' @rdname polytrack_logging
#' @export
polytrack_set_tags <- function(tags, run_id = NULL, client = polytrack_client()) {
  polytrack_log_batch(tags = tags, run_id = run_id, client = client)
}

# Limits of one LogBatch request (MLflow's).
.pt_batch_metrics <- 1000
.pt_batch_params <- 100
.pt_batch_tags <- 100

.pt_key_value_rows <- function(values) {
  if (is.null(values)) {
    return(list())
  }
  if (is.data.frame(values)) {
    return(lapply(seq_len(nrow(values)), function(i) list(key = as.character(values$key[[i]]), value = .pt_text(values$value[[i]]))))
  }
  .pt_key_values(values)
}

#' @rdname polytrack_logging
#' @export
polytrack_log_batch <- function(metrics = NULL, params = NULL, tags = NULL, run_id = NULL, client = polytrack_client()) {
  run_id <- .pt_run_id(run_id, client)
  metric_rows <- list()
  if (!is.null(metrics)) {
    if (!is.data.frame(metrics)) stop(polytrack_error("metrics must be a data.frame", "INVALID_PARAMETER_VALUE"))
    n <- nrow(metrics)
    step <- if (is.null(metrics$step)) rep(0, n) else metrics$step
    timestamp <- if (is.null(metrics$timestamp)) rep(.pt_now_ms(), n) else metrics$timestamp
    values <- .pt_metric_values(as.character(metrics$key), metrics$value)
    metric_rows <- lapply(seq_len(n), function(i) {
      list(key = as.character(metrics$key[[i]]), value = values[[i]],
           timestamp = timestamp[[i]], step = step[[i]])
    })
  }
  param_rows <- .pt_key_value_rows(params)
  tag_rows <- .pt_key_value_rows(tags)
  # Params first (each key once per batch), then tags, then metrics, in as few requests as fit.
  repeat {
    if (length(metric_rows) + length(param_rows) + length(tag_rows) == 0) break
    take <- function(rows, limit) rows[seq_len(min(limit, length(rows)))]
    drop <- function(rows, limit) if (length(rows) > limit) rows[-seq_len(limit)] else list()
    polytrack_rpc_log_batch(run_id = run_id, metrics = take(metric_rows, .pt_batch_metrics),
                            params = take(param_rows, .pt_batch_params), tags = take(tag_rows, .pt_batch_tags),
                            .client = client)
    metric_rows <- drop(metric_rows, .pt_batch_metrics)
    param_rows <- drop(param_rows, .pt_batch_params)
    tag_rows <- drop(tag_rows, .pt_batch_tags)
  }
  invisible(NULL)
}

#' Read runs
#'
#' \code{polytrack_get_run()} returns a run as a named list (\code{info}, \code{data} with
#' \code{metrics}, \code{params} and \code{tags}). \code{polytrack_search_runs()} follows every page and
#' returns a data.frame with one row per run and MLflow's columns: \code{run_id},
#' \code{experiment_id}, \code{status}, \code{start_time}, \code{end_time} (POSIXct),
#' \code{artifact_uri}, \code{lifecycle_stage}, then \code{metrics.<key>} (latest values),
#' \code{params.<key>} and \code{tags.<key>}. \code{polytrack_get_metric_history()} returns
#' every measurement of a metric as a data.frame (\code{key}, \code{value}, \code{step},
#' \code{timestamp} in milliseconds).
#'
#' @param run_id The run (\code{polytrack_get_metric_history()}: NULL for the active run).
#' @param key The metric's name.
#' @param experiment_ids Experiments to search (NULL: the current one).
#' @param filter A filter such as \code{"metrics.rmse < 1 AND params.model = 'glm'"}.
#' @param order_by Orderings such as \code{"metrics.rmse ASC"}.
#' @param run_view_type \code{"ACTIVE_ONLY"}, \code{"DELETED_ONLY"} or \code{"ALL"}.
#' @param max_results The most rows to return (NULL: all).
#' @param client The connection (see \code{\link{polytrack_client}}).
#' @return A named list or a data.frame.
#' @name polytrack_read_runs
#' @export
polytrack_get_run <- function(run_id, client = polytrack_client()) {
  polytrack_rpc_get_run(run_id = run_id, .client = client)$run
}

#' @rdname polytrack_read_runs
#' @export
polytrack_search_runs <- function(experiment_ids = NULL, filter = NULL, order_by = NULL, run_view_type = "ACTIVE_ONLY",
                                  max_results = NULL, client = polytrack_client()) {
  if (is.null(experiment_ids)) experiment_ids <- .pt_current_experiment_id()
  found <- .pt_all_pages(max_results, 1000, function(page_size, token) {
    polytrack_rpc_search_runs(experiment_ids = as.character(experiment_ids), filter = filter,
                              run_view_type = run_view_type, max_results = page_size, order_by = order_by,
                              page_token = token, .client = client)
  }, "runs")
  rows <- lapply(found, function(run) {
    info <- run$info
    metrics <- list()
    for (m in run$data$metrics) metrics[[paste0("metrics.", m$key)]] <- m$value
    c(list(run_id = info$run_id, experiment_id = info$experiment_id, status = info$status,
           start_time = .pt_time(info$start_time), end_time = .pt_time(info$end_time),
           artifact_uri = info$artifact_uri, lifecycle_stage = info$lifecycle_stage),
      metrics, .pt_prefixed("params.", run$data$params), .pt_prefixed("tags.", run$data$tags))
  })
  .pt_frame(rows, c("run_id", "experiment_id", "status", "start_time", "end_time", "artifact_uri", "lifecycle_stage"),
            c("start_time", "end_time"))
}

#' @rdname polytrack_read_runs
#' @export
polytrack_get_metric_history <- function(key, run_id = NULL, client = polytrack_client()) {
  if (is.null(run_id)) run_id <- .pt_run_id(NULL, client)
  points <- .pt_all_pages(NULL, 25000, function(page_size, token) {
    polytrack_rpc_get_metric_history(run_id = run_id, metric_key = key, page_token = token,
                                     max_results = page_size, .client = client)
  }, "metrics")
  column <- function(name, empty) {
    if (length(points) == 0) empty else vapply(points, function(p) as.numeric(p[[name]] %||% 0), 0)
  }
  data.frame(
    key = rep(key, length(points)),
    value = column("value", numeric(0)),
    step = column("step", numeric(0)),
    timestamp = column("timestamp", numeric(0)),
    stringsAsFactors = FALSE
  )
}

`%||%` <- function(x, y) if (is.null(x)) y else x
