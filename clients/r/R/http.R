# Connections, HTTP calls and the one error condition of the package.

#' Errors of the polytrack client
#'
#' Every failure the package reports is a condition of class \code{polytrack_error} (also an
#' \code{error}), carrying the MLflow error code and the HTTP status.
#'
#' @param message What went wrong.
#' @param error_code The MLflow error code name, such as \code{"RESOURCE_DOES_NOT_EXIST"}.
#' @param status The HTTP status of the reply, or NA when no reply was received.
#' @param call The call to report.
#' @param body The reply's body, when it was not a JSON error.
#' @export
polytrack_error <- function(message, error_code = "INTERNAL_ERROR", status = NA_integer_, call = NULL,
                            body = NULL) {
  structure(
    class = c("polytrack_error", "error", "condition"),
    list(message = message, call = call, error_code = error_code, status = as.integer(status), body = body)
  )
}

#' @export
conditionMessage.polytrack_error <- function(c) {
  status <- if (is.na(c$status)) "no reply" else paste("HTTP", c$status)
  sprintf("%s (%s, %s)", c$message, c$error_code, status)
}

# Error code of an error reply that has no JSON body, by HTTP status (as MLflow's clients derive it).
.pt_code_of_status <- c(
  "400" = "BAD_REQUEST", "401" = "UNAUTHENTICATED", "403" = "PERMISSION_DENIED",
  "404" = "ENDPOINT_NOT_FOUND", "405" = "ENDPOINT_NOT_FOUND", "409" = "RESOURCE_CONFLICT",
  "429" = "REQUEST_LIMIT_EXCEEDED", "499" = "CANCELLED", "501" = "NOT_IMPLEMENTED",
  "502" = "TEMPORARILY_UNAVAILABLE", "503" = "TEMPORARILY_UNAVAILABLE", "504" = "DEADLINE_EXCEEDED"
)

.pt_env_value <- function(...) {
  for (name in c(...)) {
    value <- Sys.getenv(name, "")
    if (nzchar(value)) {
      return(value)
    }
  }
  NULL
}

#' A connection to a tracking server
#'
#' Holds the server's base URL and credentials. Every function takes one as \code{.client} (or
#' \code{client}) and defaults to \code{polytrack_client()}, built from the tracking URI and the
#' environment: a bearer token from \code{POLYTRACK_TRACKING_TOKEN} (or
#' \code{MLFLOW_TRACKING_TOKEN}), else basic credentials from \code{POLYTRACK_TRACKING_USERNAME}
#' and \code{POLYTRACK_TRACKING_PASSWORD} (or the \code{MLFLOW_} twins);
#' \code{POLYTRACK_TRACKING_INSECURE_TLS=true} skips certificate checks and
#' \code{POLYTRACK_TRACKING_SERVER_CERT_PATH} names a CA bundle to trust.
#'
#' @param tracking_uri The server's base URL, \code{http://} or \code{https://}.
#' @param token A bearer token (NULL: from the environment).
#' @param username,password Basic credentials (NULL: from the environment), used without a token.
#' @param timeout Seconds a request may take.
#' @return An object of class \code{polytrack_client}.
#' @export
polytrack_client <- function(tracking_uri = polytrack_get_tracking_uri(),
                             token = .pt_env_value("POLYTRACK_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN"),
                             username = .pt_env_value("POLYTRACK_TRACKING_USERNAME", "MLFLOW_TRACKING_USERNAME"),
                             password = .pt_env_value("POLYTRACK_TRACKING_PASSWORD", "MLFLOW_TRACKING_PASSWORD"),
                             timeout = 120) {
  .pt_check_uri(tracking_uri)
  authorization <- if (!is.null(token)) {
    paste("Bearer", token)
  } else if (!is.null(username)) {
    paste("Basic", jsonlite::base64_enc(charToRaw(paste0(username, ":", if (is.null(password)) "" else password))))
  }
  insecure <- .pt_env_value("POLYTRACK_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_INSECURE_TLS")
  structure(
    list(
      base_url = sub("/+$", "", tracking_uri),
      authorization = authorization,
      insecure_tls = !is.null(insecure) && tolower(insecure) %in% c("1", "true", "yes"),
      ca_bundle = .pt_env_value("POLYTRACK_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_SERVER_CERT_PATH"),
      timeout = timeout
    ),
    class = "polytrack_client"
  )
}

#' @export
print.polytrack_client <- function(x, ...) {
  # Never print credentials.
  auth <- if (is.null(x$authorization)) "anonymous" else sub(" .*", "", x$authorization)
  cat(sprintf("<polytrack_client %s (%s)>\n", x$base_url, auth))
  invisible(x)
}

.pt_check_uri <- function(uri) {
  if (!is.character(uri) || length(uri) != 1 || !grepl("^https?://[^/]", uri)) {
    stop(polytrack_error(
      sprintf("tracking URI %s is not an http:// or https:// URL: the R client talks to a server over REST",
              paste(format(uri), collapse = " ")),
      "INVALID_PARAMETER_VALUE"
    ))
  }
}

.pt_handle <- function(client, method, headers = list()) {
  handle <- curl::new_handle()
  all_headers <- c(list(`User-Agent` = "polytrack-r/0.1.0", Accept = "application/json"), headers)
  if (!is.null(client$authorization)) all_headers$Authorization <- client$authorization
  do.call(curl::handle_setheaders, c(list(handle), all_headers))
  # path_as_is: send `..` segments as given; the server must see (and refuse) them.
  curl::handle_setopt(handle, customrequest = method, path_as_is = TRUE, timeout = client$timeout,
                      connecttimeout = 10, followlocation = FALSE)
  if (isTRUE(client$insecure_tls)) curl::handle_setopt(handle, ssl_verifypeer = FALSE, ssl_verifyhost = FALSE)
  if (!is.null(client$ca_bundle)) curl::handle_setopt(handle, cainfo = client$ca_bundle)
  handle
}

.pt_url <- function(client, path, query = NULL) {
  url <- paste0(client$base_url, path)
  if (length(query) > 0) {
    pairs <- vapply(seq_along(query), function(i) {
      paste0(curl::curl_escape(names(query)[[i]]), "=", curl::curl_escape(query[[i]]))
    }, "")
    url <- paste0(url, "?", paste(pairs, collapse = "&"))
  }
  url
}

# Performs a request; returns list(status, text, headers) or signals a polytrack_error when no
# reply came. `fetch` is curl::curl_fetch_memory, or a function streaming to a file.
.pt_perform <- function(url, handle, fetch = curl::curl_fetch_memory) {
  reply <- tryCatch(fetch(url, handle = handle), error = function(e) {
    stop(polytrack_error(sprintf("could not reach %s: %s", url, conditionMessage(e)), "TEMPORARILY_UNAVAILABLE"))
  })
  reply
}

.pt_reply_text <- function(content) {
  text <- rawToChar(content)
  Encoding(text) <- "UTF-8"
  text
}

# The polytrack_error for an error reply: its JSON error, or one derived from its status.
.pt_error_of_reply <- function(status, text, method, url) {
  body <- tryCatch(jsonlite::parse_json(text, simplifyVector = FALSE), error = function(e) NULL)
  if (is.list(body) && is.character(body$error_code) && length(body$error_code) == 1) {
    message <- if (is.character(body$message)) body$message else ""
    return(polytrack_error(message, body$error_code, status))
  }
  code <- .pt_code_of_status[as.character(status)]
  if (is.na(code)) code <- if (status >= 500) "INTERNAL_ERROR" else "BAD_REQUEST"
  shown <- substr(trimws(text), 1, 500)
  polytrack_error(sprintf("%s %s answered %d: %s", method, url, status, shown), unname(code), status, body = text)
}

# Fills the path template's {field} and {field=**} variables from (and removes them from) `fields`.
.pt_fill_path <- function(template, fields) {
  pattern <- "\\{([A-Za-z0-9_.]+)(=[^}]*)?\\}"
  path <- template
  while (grepl(pattern, path)) {
    match <- regmatches(path, regexec(pattern, path))[[1]]
    name <- match[[2]]
    value <- fields[[name]]
    if (is.null(value) || length(value) != 1 || !nzchar(as.character(value))) {
      stop(polytrack_error(sprintf("%s is required (it is part of the URL)", name), "INVALID_PARAMETER_VALUE"))
    }
    fields[[name]] <- NULL
    parts <- strsplit(as.character(value), "/", fixed = TRUE)[[1]]
    if (endsWith(as.character(value), "/")) parts <- c(parts, "")
    multi <- identical(match[[3]], "=**")
    encoded <- vapply(parts, function(part) {
      # Dot segments are percent-encoded so that they reach the server as sent.
      if (part == ".") "%2E" else if (part == "..") "%2E%2E" else curl::curl_escape(part)
    }, "", USE.NAMES = FALSE)
    text <- if (multi) paste(encoded, collapse = "/") else curl::curl_escape(as.character(value))
    path <- sub(pattern, text, path)
  }
  list(path = path, fields = fields)
}

# Calls the RPC `rpc_name` (a key of .pt_rpcs) with the request fields in `fields` (NULL = unset);
# returns the decoded response. Used by every generated polytrack_rpc_* function.
.pt_call <- function(client, rpc_name, fields) {
  if (!inherits(client, "polytrack_client")) {
    stop(polytrack_error(".client must be a polytrack_client (see polytrack_client())", "INVALID_PARAMETER_VALUE"))
  }
  rpc <- .pt_rpcs[[rpc_name]]
  filled <- .pt_fill_path(rpc$path, Filter(Negate(is.null), fields))
  tree <- .pt_encode_message(filled$fields, rpc$request, rpc$fn)
  handle <- .pt_handle(client, rpc$http_method, list(`Content-Type` = "application/json"))
  query <- NULL
  if (rpc$http_method == "GET") {
    query <- character(0)
    for (name in names(tree)) {
      node <- tree[[name]]
      items <- if (is.list(node) && is.null(names(node))) node else list(node)
      values <- vapply(items, .pt_query_text, "")
      query <- c(query, stats::setNames(values, rep(name, length(values))))
    }
  } else {
    curl::handle_setopt(handle, postfields = .pt_to_json(tree))
  }
  url <- .pt_url(client, filled$path, query)
  reply <- .pt_perform(url, handle)
  text <- .pt_reply_text(reply$content)
  if (reply$status_code >= 300) stop(.pt_error_of_reply(reply$status_code, text, rpc$http_method, url))
  body <- tryCatch(.pt_parse_json(text), error = function(e) {
    stop(polytrack_error(sprintf("%s answered with a body that is not JSON: %s", url, substr(text, 1, 200)),
                         "INTERNAL_ERROR", reply$status_code))
  })
  .pt_decode_message(body, rpc$response)
}

#' Call any RPC by name
#'
#' The low level of the package: one function per RPC of the polytrack API that has a REST
#' binding, named \code{polytrack_rpc_<method in snake_case>} and generated from the protos.
#' Arguments are the request's fields (NULL leaves a field unset); the result is the response
#' message as a named list. \code{polytrack_rpc()} calls the generated function of an RPC named
#' by its method (\code{"GetRun"}) or full name (\code{"polytrack.v1.TrackingService.GetRun"}).
#'
#' JSON follows the REST API's wire form: 64-bit integers are doubles in R, exact up to 2^53
#' (millisecond timestamps fit; pass larger values as strings of digits, and they come back as
#' strings); doubles may be NaN, Inf and -Inf; repeated fields are always JSON arrays; repeated
#' scalars come back as vectors, repeated messages as lists of named lists.
#'
#' @param method The RPC's method name or full name.
#' @param request A named list of the request's fields.
#' @param .client The connection (see \code{\link{polytrack_client}}).
#' @return The response as a named list.
#' @export
polytrack_rpc <- function(method, request = list(), .client = polytrack_client()) {
  rpc <- .pt_find_rpc(method)
  schema <- .pt_messages[[rpc$request]]
  arguments <- list()
  for (name in names(request)) {
    field <- .pt_field_of(schema, name)
    if (is.null(field)) {
      stop(polytrack_error(sprintf("%s has no field '%s'", rpc$request, name), "INVALID_PARAMETER_VALUE"))
    }
    arguments[field$name] <- list(request[[name]])
  }
  fn <- get(rpc$fn, envir = asNamespace("polytrack"))
  do.call(fn, c(arguments, list(.client = .client)))
}

.pt_find_rpc <- function(method) {
  rpc <- .pt_rpcs[[method]]
  if (is.null(rpc)) {
    short <- sub(".*\\.", "", names(.pt_rpcs))
    found <- which(short == method)
    if (length(found) != 1) {
      stop(polytrack_error(sprintf("unknown RPC %s (or not available over REST)", method), "INVALID_PARAMETER_VALUE"))
    }
    rpc <- .pt_rpcs[[found]]
  }
  rpc
}
