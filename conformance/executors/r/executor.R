# Conformance executor for polytrack's R client: forwards calls, judges nothing.
#
#   Rscript conformance/executors/r/executor.R --transport rest --target http://127.0.0.1:5000
#
# Reads one JSON request per line on stdin and writes one JSON answer per line on stdout, until
# end of input (the protocol is in conformance/README.md):
#
#   {"id": 1, "kind": "rpc", "service": "polytrack.v1.TrackingService", "method": "GetRun",
#    "request": {"run_id": "..."}}
#   -> {"id": 1, "response": {...}}
#   -> {"id": 1, "error": {"error_code": "RESOURCE_DOES_NOT_EXIST", "http_status": 404, "message": "..."}}
#   -> {"id": 1, "failure": "why the call could not be made"}
#
# The request's fields become the arguments of the RPC's generated function (polytrack_rpc_*), so
# the call goes through the package's own encoding, HTTP and decoding; the decoded response is
# written back with the package's encoder. The package is loaded from $POLYTRACK_R_LIB (default
# .cache/r-lib), installed there from clients/r first when its sources changed.

args <- commandArgs(trailingOnly = TRUE)
option <- function(name) {
  at <- match(name, args)
  if (is.na(at) || at == length(args)) stop(sprintf("usage: executor.R --transport rest --target URL (no %s)", name))
  args[[at + 1]]
}
transport <- option("--transport")
target <- option("--target")
if (transport != "rest") {
  message("executor: the R client speaks REST only, not ", transport)
  quit(status = 2)
}

root <- normalizePath(".")
source_dir <- file.path(root, "clients", "r")
lib <- Sys.getenv("POLYTRACK_R_LIB", file.path(root, ".cache", "r-lib"))

# Installs clients/r into `lib` unless the installed copy was built from the same sources.
ensure_installed <- function() {
  files <- c(list.files(file.path(source_dir, "R"), full.names = TRUE),
             file.path(source_dir, c("DESCRIPTION", "NAMESPACE")))
  digest <- paste(tools::md5sum(sort(files)), collapse = "")
  stamp <- file.path(lib, "polytrack.sources.md5")
  if (file.exists(file.path(lib, "polytrack", "DESCRIPTION")) && file.exists(stamp) &&
      identical(readLines(stamp, warn = FALSE), digest)) {
    return(invisible())
  }
  dir.create(lib, recursive = TRUE, showWarnings = FALSE)
  r <- file.path(R.home("bin"), "R")
  status <- system2(r, c("CMD", "INSTALL", "--no-docs", "--no-multiarch", "--no-test-load",
                         paste0("--library=", shQuote(lib)), shQuote(source_dir)),
                    stdout = stderr(), stderr = stderr())
  if (status != 0) stop("R CMD INSTALL clients/r failed")
  writeLines(digest, stamp)
}
ensure_installed()
suppressPackageStartupMessages(library(polytrack, lib.loc = lib))

client <- polytrack_client(target)
find_rpc <- polytrack:::.pt_find_rpc
messages <- polytrack:::.pt_messages
field_of <- polytrack:::.pt_field_of
encode_message <- polytrack:::.pt_encode_message

to_json <- function(x) {
  as.character(jsonlite::toJSON(x, auto_unbox = TRUE, json_verbatim = TRUE, null = "null", digits = NA))
}

answer <- function(line) {
  if (!identical(line$kind, "rpc")) {
    return(list(failure = sprintf("this executor handles kind 'rpc' only, got %s", format(line$kind))))
  }
  service <- if (is.null(line$service)) "polytrack.v1.TrackingService" else line$service
  full_name <- paste0(service, ".", line$method)
  rpc <- tryCatch(find_rpc(full_name), polytrack_error = function(e) NULL)
  if (is.null(rpc)) return(list(failure = sprintf("no generated function for %s", full_name)))
  schema <- messages[[rpc$request]]
  arguments <- list()
  for (name in names(line$request)) {
    field <- field_of(schema, name)
    if (is.null(field)) return(list(failure = sprintf("%s has no field %s", rpc$request, name)))
    arguments[field$name] <- list(line$request[[name]])
  }
  fn <- get(rpc$fn, envir = asNamespace("polytrack"))
  tryCatch(
    {
      response <- do.call(fn, c(arguments, list(.client = client)))
      list(response = encode_message(response, rpc$response))
    },
    polytrack_error = function(e) {
      list(error = list(error_code = e$error_code,
                        http_status = if (is.na(e$status)) NULL else e$status,
                        message = e$message))
    },
    error = function(e) list(failure = conditionMessage(e))
  )
}

input <- file("stdin", open = "r", encoding = "UTF-8")
repeat {
  raw <- readLines(input, n = 1, warn = FALSE)
  if (length(raw) == 0) break
  if (!nzchar(trimws(raw))) next
  line <- tryCatch(jsonlite::parse_json(raw, simplifyVector = FALSE, bigint_as_char = TRUE),
                   error = function(e) NULL)
  if (is.null(line)) {
    message("executor: input is not JSON: ", substr(raw, 1, 200))
    quit(status = 2)
  }
  reply <- c(list(id = line$id), answer(line))
  cat(to_json(reply), "\n", sep = "")
  flush(stdout())
}
