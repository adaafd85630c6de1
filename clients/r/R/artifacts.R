# Artifacts through the server's artifact proxy (/api/2.0/mlflow-artifacts/artifacts/<path>): files
# are streamed from and to disk with curl, never held in memory whole.

.pt_proxy_route <- "/api/2.0/mlflow-artifacts/artifacts/"

# The proxy path of a run's artifact root: the part of `mlflow-artifacts:/<path>` (or
# `mlflow-artifacts://host/<path>`) after the scheme and authority.
.pt_artifact_root <- function(run_id, client) {
  uri <- polytrack_rpc_get_run(run_id = run_id, .client = client)$run$info$artifact_uri
  if (is.null(uri) || !startsWith(uri, "mlflow-artifacts:")) {
    stop(polytrack_error(
      sprintf("run %s stores artifacts at %s, which the server does not proxy (mlflow-artifacts:)",
              run_id, format(uri)),
      "INVALID_PARAMETER_VALUE"
    ))
  }
  rest <- sub("^mlflow-artifacts:", "", uri)
  if (startsWith(rest, "//")) rest <- sub("^//[^/]*", "", rest)
  sub("^/+", "", sub("/+$", "", rest))
}

.pt_join <- function(...) {
  parts <- c(...)
  parts <- parts[!is.null(parts) & nzchar(parts)]
  paste(gsub("^/+|/+$", "", parts), collapse = "/")
}

.pt_proxy_url <- function(client, path) {
  .pt_fill_path(paste0(.pt_proxy_route, "{path=**}"), list(path = path))$path
}

.pt_upload_file <- function(local_file, remote_path, client) {
  size <- file.size(local_file)
  if (is.na(size)) stop(polytrack_error(sprintf("no such file: %s", local_file), "INVALID_PARAMETER_VALUE"))
  connection <- file(local_file, open = "rb")
  on.exit(close(connection), add = TRUE)
  handle <- .pt_handle(client, "PUT", list(`Content-Type` = "application/octet-stream"))
  curl::handle_setopt(handle, upload = TRUE, infilesize_large = size,
                      readfunction = function(n) readBin(connection, raw(), n))
  url <- paste0(client$base_url, .pt_proxy_url(client, remote_path))
  reply <- .pt_perform(url, handle)
  if (reply$status_code >= 300) stop(.pt_error_of_reply(reply$status_code, .pt_reply_text(reply$content), "PUT", url))
  invisible(NULL)
}

.pt_download_file <- function(remote_path, local_file, client) {
  dir.create(dirname(local_file), recursive = TRUE, showWarnings = FALSE)
  partial <- paste0(local_file, ".part")
  handle <- .pt_handle(client, "GET")
  url <- paste0(client$base_url, .pt_proxy_url(client, remote_path))
  reply <- .pt_perform(url, handle, fetch = function(url, handle) curl::curl_fetch_disk(url, partial, handle = handle))
  if (reply$status_code >= 300) {
    text <- paste(readLines(partial, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
    unlink(partial)
    stop(.pt_error_of_reply(reply$status_code, text, "GET", url))
  }
  file.rename(partial, local_file)
  local_file
}

#' Artifacts
#'
#' Upload, list and download a run's artifact files through the tracking server's artifact proxy
#' (the run's artifact URI must be \code{mlflow-artifacts:}, the default of a server serving
#' artifacts). Files are streamed with curl.
#'
#' @param path A local file (\code{polytrack_log_artifact()}), or a path relative to the run's
#'   artifact root (listing and download; NULL or "" is the root).
#' @param local_dir A local directory whose files are uploaded, recursively.
#' @param artifact_path Directory under the run's artifact root to upload into (NULL: the root).
#' @param dst_path Local directory to download into (NULL: a new temporary directory).
#' @param run_id The run (NULL: the active run).
#' @param client The connection (see \code{\link{polytrack_client}}).
#' @return \code{polytrack_list_artifacts()}: a data.frame (\code{path}, \code{is_dir},
#'   \code{file_size}). \code{polytrack_download_artifacts()}: the local path of the downloaded
#'   file or directory. The others: NULL, invisibly.
#' @name polytrack_artifacts
#' @export
polytrack_log_artifact <- function(path, artifact_path = NULL, run_id = NULL, client = polytrack_client()) {
  run_id <- .pt_run_id(run_id, client)
  root <- .pt_artifact_root(run_id, client)
  .pt_upload_file(path, .pt_join(root, artifact_path, basename(path)), client)
}

#' @rdname polytrack_artifacts
#' @export
polytrack_log_artifacts <- function(local_dir, artifact_path = NULL, run_id = NULL, client = polytrack_client()) {
  if (!dir.exists(local_dir)) stop(polytrack_error(sprintf("no such directory: %s", local_dir), "INVALID_PARAMETER_VALUE"))
  run_id <- .pt_run_id(run_id, client)
  root <- .pt_artifact_root(run_id, client)
  for (relative in list.files(local_dir, recursive = TRUE, all.files = TRUE, no.. = TRUE)) {
    .pt_upload_file(file.path(local_dir, relative), .pt_join(root, artifact_path, relative), client)
  }
  invisible(NULL)
}

#' @rdname polytrack_artifacts
#' @export
polytrack_list_artifacts <- function(path = NULL, run_id = NULL, client = polytrack_client()) {
  run_id <- .pt_run_id(run_id, client)
  files <- .pt_all_pages(NULL, .Machine$integer.max, function(page_size, token) {
    polytrack_rpc_list_artifacts(run_id = run_id, path = if (is.null(path) || !nzchar(path)) NULL else path,
                                 page_token = token, .client = client)
  }, "files")
  data.frame(
    path = vapply(files, function(f) f$path %||% "", ""),
    is_dir = vapply(files, function(f) isTRUE(f$is_dir), TRUE),
    file_size = vapply(files, function(f) as.numeric(f$file_size %||% NA_real_), 0),
    stringsAsFactors = FALSE
  )
}

#' @rdname polytrack_artifacts
#' @export
polytrack_download_artifacts <- function(path = NULL, dst_path = NULL, run_id = NULL, client = polytrack_client()) {
  run_id <- .pt_run_id(run_id, client)
  root <- .pt_artifact_root(run_id, client)
  if (is.null(dst_path)) dst_path <- tempfile("polytrack-artifacts-")
  dir.create(dst_path, recursive = TRUE, showWarnings = FALSE)
  path <- if (is.null(path)) "" else sub("/+$", "", path)
  fetch_dir <- function(relative) {
    target <- file.path(dst_path, relative)
    dir.create(target, recursive = TRUE, showWarnings = FALSE)
    entries <- polytrack_list_artifacts(relative, run_id = run_id, client = client)
    for (i in seq_len(nrow(entries))) {
      if (entries$is_dir[[i]]) fetch_dir(entries$path[[i]]) else
        .pt_download_file(.pt_join(root, entries$path[[i]]), file.path(dst_path, entries$path[[i]]), client)
    }
    target
  }
  if (!nzchar(path)) {
    fetch_dir("")
    return(normalizePath(dst_path))
  }
  entries <- polytrack_list_artifacts(path, run_id = run_id, client = client)
  if (nrow(entries) > 0) {
    return(normalizePath(fetch_dir(path)))
  }
  # Nothing listed under it: a file (or a missing path, which the download reports).
  normalizePath(.pt_download_file(.pt_join(root, path), file.path(dst_path, path), client))
}
