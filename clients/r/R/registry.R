# The model registry: registered models, their versions, aliases and stages.

#' Model registry
#'
#' Register models and their versions, name versions with aliases and move them between stages.
#' Models and versions are returned as named lists (the API's \code{RegisteredModel} and
#' \code{ModelVersion}); the searches return data frames.
#'
#' @param name Name of the registered model.
#' @param description A description (NULL: none).
#' @param tags A named list or character vector of tags.
#' @param source Where the version's files are, such as \code{"runs:/<run_id>/model"} or the
#'   run's artifact URI.
#' @param run_id The run that produced the version (NULL: none).
#' @param version The version number, as a string or a whole number.
#' @param alias An alias such as \code{"champion"}.
#' @param stage \code{"None"}, \code{"Staging"}, \code{"Production"} or \code{"Archived"}.
#' @param archive_existing_versions Move the model's other versions in \code{stage} to Archived.
#' @param filter A search filter such as \code{"name LIKE 'churn\%'"}.
#' @param order_by Orderings such as \code{"name ASC"}.
#' @param max_results The most rows to return (NULL: all).
#' @param client The connection (see \code{\link{polytrack_client}}).
#' @return A registered model or model version as a named list, a data.frame for searches, or
#'   NULL (invisibly) for deletions and aliases.
#' @name polytrack_registry
#' @export
polytrack_create_registered_model <- function(name, description = NULL, tags = NULL, client = polytrack_client()) {
  polytrack_rpc_create_registered_model(name = name, description = description, tags = .pt_key_values(tags),
                                        .client = client)$registered_model
}

#' @rdname polytrack_registry
#' @export
polytrack_get_registered_model <- function(name, client = polytrack_client()) {
  polytrack_rpc_get_registered_model(name = name, .client = client)$registered_model
}

#' @rdname polytrack_registry
#' @export
polytrack_delete_registered_model <- function(name, client = polytrack_client()) {
  polytrack_rpc_delete_registered_model(name = name, .client = client)
  invisible(NULL)
}

#' @rdname polytrack_registry
#' @export
polytrack_search_registered_models <- function(filter = NULL, order_by = NULL, max_results = NULL,
                                               client = polytrack_client()) {
  found <- .pt_all_pages(max_results, 1000, function(page_size, token) {
    polytrack_rpc_search_registered_models(filter = filter, max_results = page_size, order_by = order_by,
                                           page_token = token, .client = client)
  }, "registered_models")
  rows <- lapply(found, function(m) {
    c(list(name = m$name, creation_timestamp = .pt_time(m$creation_timestamp),
           last_updated_timestamp = .pt_time(m$last_updated_timestamp), description = m$description %||% NA),
      .pt_prefixed("tags.", m$tags))
  })
  .pt_frame(rows, c("name", "creation_timestamp", "last_updated_timestamp", "description"),
            c("creation_timestamp", "last_updated_timestamp"))
}

#' @rdname polytrack_registry
#' @export
polytrack_create_model_version <- function(name, source, run_id = NULL, description = NULL, tags = NULL,
                                           client = polytrack_client()) {
  polytrack_rpc_create_model_version(name = name, source = source, run_id = run_id, description = description,
                                     tags = .pt_key_values(tags), .client = client)$model_version
}

#' @rdname polytrack_registry
#' @export
polytrack_get_model_version <- function(name, version, client = polytrack_client()) {
  polytrack_rpc_get_model_version(name = name, version = .pt_text(version), .client = client)$model_version
}

#' @rdname polytrack_registry
#' @export
polytrack_search_model_versions <- function(filter = NULL, order_by = NULL, max_results = NULL,
                                            client = polytrack_client()) {
  found <- .pt_all_pages(max_results, 1000, function(page_size, token) {
    polytrack_rpc_search_model_versions(filter = filter, max_results = page_size, order_by = order_by,
                                        page_token = token, .client = client)
  }, "model_versions")
  rows <- lapply(found, function(v) {
    c(list(name = v$name, version = v$version, current_stage = v$current_stage %||% NA,
           source = v$source %||% NA, run_id = v$run_id %||% NA, status = v$status %||% NA,
           creation_timestamp = .pt_time(v$creation_timestamp),
           last_updated_timestamp = .pt_time(v$last_updated_timestamp),
           aliases = paste(v$aliases, collapse = ",")),
      .pt_prefixed("tags.", v$tags))
  })
  .pt_frame(rows, c("name", "version", "current_stage", "source", "run_id", "status", "creation_timestamp",
                    "last_updated_timestamp", "aliases"), c("creation_timestamp", "last_updated_timestamp"))
}

#' @rdname polytrack_registry
#' @export
polytrack_set_registered_model_alias <- function(name, alias, version, client = polytrack_client()) {
  polytrack_rpc_set_registered_model_alias(name = name, alias = alias, version = .pt_text(version), .client = client)
  invisible(NULL)
}

#' @rdname polytrack_registry
#' @export
polytrack_delete_registered_model_alias <- function(name, alias, client = polytrack_client()) {
  polytrack_rpc_delete_registered_model_alias(name = name, alias = alias, .client = client)
  invisible(NULL)
}

#' @rdname polytrack_registry
#' @export
polytrack_get_model_version_by_alias <- function(name, alias, client = polytrack_client()) {
  polytrack_rpc_get_model_version_by_alias(name = name, alias = alias, .client = client)$model_version
}

#' @rdname polytrack_registry
#' @export
polytrack_transition_model_version_stage <- function(name, version, stage, archive_existing_versions = FALSE,
                                                     client = polytrack_client()) {
  polytrack_rpc_transition_model_version_stage(name = name, version = .pt_text(version), stage = stage,
                                               archive_existing_versions = archive_existing_versions,
                                               .client = client)$model_version
}
