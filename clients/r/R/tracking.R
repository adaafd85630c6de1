# The idiomatic layer for R scripts: a tracking URI, a current experiment and a stack of active runs.

.pt_state <- new.env(parent = emptyenv())
.pt_state$tracking_uri <- NULL
.pt_state$experiment_id <- NULL
.pt_state$runs <- list()

.pt_default_uri <- "http://localhost:5000"

.pt_now_ms <- function() round(as.numeric(Sys.time()) * 1000)

#' Tracking server and experiment
#'
#' \code{polytrack_set_tracking_uri()} names the server every later call talks to (its REST API,
#' \code{http://} or \code{https://}). Without it the URI comes from \code{POLYTRACK_TRACKING_URI},
#' then \code{MLFLOW_TRACKING_URI}, else \code{http://localhost:5000}.
#' \code{polytrack_set_experiment()} makes an experiment current (creating it by name when it does
#' not exist); runs start in it. Without it runs start in \code{POLYTRACK_EXPERIMENT_ID} /
#' \code{MLFLOW_EXPERIMENT_ID}, else in the Default experiment ("0").
#'
#' @param uri The server's base URL; NULL forgets the one set before.
#' @param name Name of the experiment.
#' @param experiment_id Identifier of the experiment (instead of \code{name}).
#' @return \code{polytrack_set_tracking_uri()}: the previous URI, invisibly.
#'   \code{polytrack_get_tracking_uri()}: the URI in use. \code{polytrack_set_experiment()}: the
#'   experiment's id, invisibly.
#' @name polytrack_tracking
#' @export
polytrack_set_tracking_uri <- function(uri) {
  if (!is.null(uri)) .pt_check_uri(uri)
  previous <- .pt_state$tracking_uri
  .pt_state$tracking_uri <- uri
  invisible(previous)
}

#' @rdname polytrack_tracking
#' @export
polytrack_get_tracking_uri <- function() {
  if (!is.null(.pt_state$tracking_uri)) {
    return(.pt_state$tracking_uri)
  }
  from_env <- .pt_env_value("POLYTRACK_TRACKING_URI", "MLFLOW_TRACKING_URI")
  if (is.null(from_env)) .pt_default_uri else from_env
}

#' @rdname polytrack_tracking
#' @export
polytrack_set_experiment <- function(name = NULL, experiment_id = NULL) {
  client <- polytrack_client()
  if (!is.null(experiment_id)) {
    experiment <- polytrack_rpc_get_experiment(experiment_id = as.character(experiment_id), .client = client)$experiment
  } else {
    if (is.null(name)) stop(polytrack_error("give the experiment's name or experiment_id", "INVALID_PARAMETER_VALUE"))
    experiment <- tryCatch(
      polytrack_rpc_get_experiment_by_name(experiment_name = name, .client = client)$experiment,
      polytrack_error = function(e) if (identical(e$error_code, "RESOURCE_DOES_NOT_EXIST")) NULL else stop(e)
    )
    if (is.null(experiment)) {
      id <- polytrack_rpc_create_experiment(name = name, .client = client)$experiment_id
      experiment <- list(experiment_id = id, lifecycle_stage = "active")
    }
  }
  if (!identical(experiment$lifecycle_stage, "active")) {
    stop(polytrack_error(sprintf("experiment %s is deleted: restore it first", experiment$experiment_id),
                         "INVALID_PARAMETER_VALUE"))
  }
  .pt_state$experiment_id <- experiment$experiment_id
  invisible(experiment$experiment_id)
}

.pt_current_experiment_id <- function() {
  if (!is.null(.pt_state$experiment_id)) {
    return(.pt_state$experiment_id)
  }
  from_env <- .pt_env_value("POLYTRACK_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID")
  if (is.null(from_env)) "0" else from_env
}

#' Experiments
#'
#' Create, fetch and search experiments. \code{polytrack_search_experiments()} follows every page
#' and returns a data.frame with one row per experiment: \code{experiment_id}, \code{name},
#' \code{artifact_location}, \code{lifecycle_stage}, \code{creation_time},
#' \code{last_update_time} (POSIXct) and a \code{tags.<key>} column per tag key.
#'
#' @param name Name of the experiment.
#' @param artifact_location Root URI for its runs' artifacts (NULL: the server's default).
#' @param tags A named list or character vector of tags.
#' @param experiment_id Identifier of the experiment.
#' @param filter A search filter such as \code{"name LIKE 'churn-\%'"}.
#' @param order_by A character vector of orderings such as \code{"name ASC"}.
#' @param view_type \code{"ACTIVE_ONLY"}, \code{"DELETED_ONLY"} or \code{"ALL"}.
#' @param max_results The most rows to return (NULL: all).
#' @param client The connection (see \code{\link{polytrack_client}}).
#' @return The id of a new experiment; an experiment as a named list; or a data.frame.
#' @name polytrack_experiments
#' @export
polytrack_create_experiment <- function(name, artifact_location = NULL, tags = NULL, client = polytrack_client()) {
  polytrack_rpc_create_experiment(name = name, artifact_location = artifact_location,
                                  tags = .pt_key_values(tags), .client = client)$experiment_id
}

#' @rdname polytrack_experiments
#' @export
polytrack_get_experiment <- function(experiment_id, client = polytrack_client()) {
  polytrack_rpc_get_experiment(experiment_id = as.character(experiment_id), .client = client)$experiment
}

#' @rdname polytrack_experiments
#' @export
polytrack_get_experiment_by_name <- function(name, client = polytrack_client()) {
  polytrack_rpc_get_experiment_by_name(experiment_name = name, .client = client)$experiment
}

#' @rdname polytrack_experiments
#' @export
polytrack_search_experiments <- function(filter = NULL, order_by = NULL, view_type = "ACTIVE_ONLY",
                                         max_results = NULL, client = polytrack_client()) {
  found <- .pt_all_pages(max_results, 1000, function(page_size, token) {
    polytrack_rpc_search_experiments(max_results = page_size, page_token = token, filter = filter,
                                     order_by = order_by, view_type = view_type, .client = client)
  }, "experiments")
  rows <- lapply(found, function(e) {
    c(list(experiment_id = e$experiment_id, name = e$name, artifact_location = e$artifact_location,
           lifecycle_stage = e$lifecycle_stage, creation_time = .pt_time(e$creation_time),
           last_update_time = .pt_time(e$last_update_time)),
      .pt_prefixed("tags.", e$tags))
  })
  .pt_frame(rows, c("experiment_id", "name", "artifact_location", "lifecycle_stage", "creation_time",
                    "last_update_time"), c("creation_time", "last_update_time"))
}

# Items of every page of a search, up to `max_results` (NULL: all).
.pt_all_pages <- function(max_results, page_limit, fetch, field) {
  items <- list()
  token <- NULL
  repeat {
    want <- if (is.null(max_results)) page_limit else min(page_limit, max_results - length(items))
    if (want <= 0) break
    page <- fetch(want, token)
    items <- c(items, page[[field]])
    token <- page$next_page_token
    if (is.null(token) || !nzchar(token)) break
  }
  items
}

# A named list / vector (or NULL) as a list of list(key, value), the form of tags and params.
.pt_key_values <- function(values) {
  if (is.null(values)) {
    return(NULL)
  }
  keys <- names(values)
  if (length(values) > 0 && (is.null(keys) || any(keys == ""))) {
    stop(polytrack_error("expected a named list or vector of values", "INVALID_PARAMETER_VALUE"))
  }
  lapply(seq_along(values), function(i) list(key = keys[[i]], value = .pt_text(values[[i]])))
}

# A param or tag value as the text the server stores.
.pt_text <- function(value) {
  if (length(value) != 1) stop(polytrack_error("a param or tag value must be a single value", "INVALID_PARAMETER_VALUE"))
  if (is.numeric(value)) {
    return(if (is.finite(value) && value == trunc(value) && abs(value) < 1e15) sprintf("%.0f", value) else
      .pt_double_text(value))
  }
  as.character(value)
}

.pt_time <- function(ms) {
  if (is.null(ms)) NA_real_ else as.numeric(ms) / 1000
}

.pt_prefixed <- function(prefix, key_values) {
  out <- list()
  for (item in key_values) out[[paste0(prefix, item$key)]] <- item$value
  out
}

# Rows (named lists of scalars) as a data.frame with `first` columns leading, then the rest sorted.
.pt_frame <- function(rows, first, time_columns = character(0)) {
  columns <- unique(c(first, sort(unique(unlist(lapply(rows, names))))))
  data <- lapply(stats::setNames(columns, columns), function(column) {
    values <- lapply(rows, function(row) if (is.null(row[[column]])) NA else row[[column]])
    unlist(values, use.names = FALSE)
  })
  for (column in columns) {
    if (length(data[[column]]) == 0) data[[column]] <- if (column %in% time_columns) numeric(0) else character(0)
  }
  for (column in intersect(time_columns, columns)) {
    data[[column]] <- as.POSIXct(as.numeric(data[[column]]), origin = "1970-01-01", tz = "UTC")
  }
  as.data.frame(data, stringsAsFactors = FALSE, check.names = FALSE, optional = TRUE)
}
