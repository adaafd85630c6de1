# The REST API's JSON (MLflow's wire form) from and to R values, driven by the generated message
# schemas in .pt_messages (R/generated_schema.R).
#
# Encoding builds a tree that jsonlite writes verbatim: objects are named lists, arrays unnamed
# lists (so a repeated field with one element is still an array), strings and logicals are length-1
# vectors, and numbers are pre-rendered text of class "json" (so int64 values and doubles print
# exactly, never in jsonlite's rounded or quoted forms). Non-finite doubles travel as the strings
# "NaN", "Infinity" and "-Infinity", as the REST API writes them.
#
# Integers: R has no 64-bit integer, so int64 fields are doubles, exact up to 2^53 (millisecond
# timestamps until the year 287396). Larger values are passed and returned as strings of digits.

.pt_json_text <- function(text) structure(text, class = "json")

.pt_empty_object <- function() structure(list(), names = character(0))

.pt_is_integer_text <- function(x) grepl("^-?[0-9]+$", x)

# Shortest decimal text that reads back as the same double.
.pt_double_text <- function(x) {
  text <- sprintf("%.15g", x)
  inexact <- as.numeric(text) != x
  text[inexact] <- sprintf("%.17g", x[inexact])
  text
}

.pt_wire_error <- function(where, problem) {
  stop(polytrack_error(sprintf("%s: %s", where, problem), "INVALID_PARAMETER_VALUE"))
}

# Encodes an atomic vector of one field's values; returns a list with one JSON node per value.
.pt_encode_scalars <- function(values, kind, where) {
  if (is.factor(values) || inherits(values, "integer64")) values <- as.character(values)
  if (is.list(values)) {
    return(lapply(values, function(value) {
      if (is.list(value) || length(value) != 1) .pt_wire_error(where, "expected a single value per element")
      .pt_encode_scalars(value, kind, where)[[1]]
    }))
  }
  if (anyNA(values) && !(kind == "double" && all(is.nan(values[is.na(values)])))) {
    .pt_wire_error(where, "NA is not a value (leave the field NULL to unset it)")
  }
  switch(kind,
    string = as.list(enc2utf8(as.character(values))),
    enum = if (is.numeric(values)) lapply(sprintf("%.0f", values), .pt_json_text) else as.list(as.character(values)),
    bool = {
      if (is.character(values)) {
        lowered <- tolower(values)
        if (!all(lowered %in% c("true", "false"))) .pt_wire_error(where, "expected TRUE or FALSE")
        values <- lowered == "true"
      }
      if (!is.logical(values)) .pt_wire_error(where, "expected TRUE or FALSE")
      as.list(values)
    },
    int32 = ,
    int64 = {
      if (is.character(values)) {
        # Digits go out as JSON numbers, exactly; anything else as a string for the server to judge.
        lapply(values, function(v) if (.pt_is_integer_text(v)) .pt_json_text(v) else v)
      } else if (is.numeric(values)) {
        if (any(!is.finite(values) | values != trunc(values))) {
          .pt_wire_error(where, "expected a whole number")
        }
        lapply(sprintf("%.0f", values), .pt_json_text)
      } else {
        .pt_wire_error(where, "expected a whole number")
      }
    },
    double = {
      if (is.character(values)) {
        as.list(values)
      } else if (is.numeric(values) || is.logical(values)) {
        values <- as.numeric(values)
        text <- rep("", length(values))
        finite <- is.finite(values)
        text[finite] <- .pt_double_text(values[finite])
        out <- lapply(text, .pt_json_text)
        out[is.nan(values)] <- list("NaN")
        out[!is.nan(values) & values == Inf] <- list("Infinity")
        out[!is.nan(values) & values == -Inf] <- list("-Infinity")
        out
      } else {
        .pt_wire_error(where, "expected a number")
      }
    },
    bytes = if (is.raw(values)) list(jsonlite::base64_enc(values)) else as.list(as.character(values)),
    .pt_wire_error(where, sprintf("unknown kind %s", kind))
  )
}

.pt_field_of <- function(schema, name) {
  spec <- schema[[name]]
  if (!is.null(spec)) {
    return(list(name = name, spec = spec))
  }
  # Also accept lowerCamelCase (protobuf JSON) names.
  for (field_name in names(schema)) {
    if (identical(schema[[field_name]][["json"]], name)) {
      return(list(name = field_name, spec = schema[[field_name]]))
    }
  }
  NULL
}

# A data.frame as a list of rows (named lists); NA cells are left out (unset).
.pt_rows <- function(frame) {
  columns <- lapply(frame, function(column) if (is.factor(column)) as.character(column) else column)
  lapply(seq_len(nrow(frame)), function(i) {
    row <- lapply(columns, function(column) column[[i]])
    keep <- vapply(row, function(v) !(length(v) == 1 && is.atomic(v) && is.na(v) && !is.nan(v)), TRUE)
    row[keep]
  })
}

.pt_encode_field <- function(value, spec, where) {
  kind <- spec[["kind"]]
  single <- function(v, at) {
    if (kind == "message") .pt_encode_message(v, spec[["type"]], at) else {
      if (length(v) != 1) .pt_wire_error(at, sprintf("expected one value, got %d", length(v)))
      .pt_encode_scalars(v, kind, at)[[1]]
    }
  }
  switch(spec[["cardinality"]],
    single = single(value, where),
    repeated = {
      if (kind == "message") {
        if (is.data.frame(value)) value <- .pt_rows(value)
        if (!is.list(value) || (!is.null(names(value)) && any(names(value) != ""))) {
          # One message given on its own: still an array of one.
          value <- list(value)
        }
        lapply(seq_along(value), function(i) single(value[[i]], sprintf("%s[%d]", where, i)))
      } else {
        unname(.pt_encode_scalars(value, kind, where))
      }
    },
    map = {
      keys <- names(value)
      if (length(value) > 0 && (is.null(keys) || any(keys == ""))) .pt_wire_error(where, "expected a named list")
      out <- lapply(seq_along(value), function(i) single(value[[i]], sprintf("%s[[%s]]", where, keys[[i]])))
      if (length(out) == 0) .pt_empty_object() else stats::setNames(out, keys)
    }
  )
}

# An R named list (NULL elements are unset fields) as the JSON tree of message `type`.
.pt_encode_message <- function(value, type, where = type) {
  schema <- .pt_messages[[type]]
  if (is.null(value)) {
    return(.pt_empty_object())
  }
  if (is.data.frame(value) && nrow(value) == 1) value <- .pt_rows(value)[[1]]
  if (!is.list(value) || (length(value) > 0 && is.null(names(value)))) {
    .pt_wire_error(where, "expected a named list of fields")
  }
  out <- list()
  for (name in names(value)) {
    item <- value[[name]]
    if (is.null(item)) next
    field <- .pt_field_of(schema, name)
    if (is.null(field)) .pt_wire_error(where, sprintf("%s has no field '%s'", type, name))
    out[[field$name]] <- .pt_encode_field(item, field$spec, paste0(where, ".", field$name))
  }
  if (length(out) == 0) .pt_empty_object() else out
}

.pt_to_json <- function(tree) {
  as.character(jsonlite::toJSON(tree, auto_unbox = TRUE, json_verbatim = TRUE, null = "null", digits = NA))
}

# Text of one encoded value in a query string.
.pt_query_text <- function(node) {
  if (is.logical(node)) tolower(as.character(node)) else as.character(unclass(node))
}

# --- decoding ----------------------------------------------------------------------------------

.pt_parse_json <- function(text) {
  if (!nzchar(trimws(text))) {
    return(.pt_empty_object())
  }
  jsonlite::parse_json(text, simplifyVector = FALSE, bigint_as_char = TRUE)
}

.pt_non_finite <- c("NaN" = NaN, "Infinity" = Inf, "-Infinity" = -Inf)

.pt_decode_scalar <- function(value, kind) {
  if (is.null(value)) {
    return(NULL)
  }
  switch(kind,
    double = if (is.character(value)) {
      if (value %in% names(.pt_non_finite)) .pt_non_finite[[value]] else suppressWarnings(as.numeric(value))
    } else {
      as.numeric(value)
    },
    # Beyond 2^53 a 64-bit integer stays a string of digits (jsonlite's bigint_as_char).
    int64 = if (is.character(value)) value else as.numeric(value),
    int32 = if (is.character(value)) as.numeric(value) else as.integer(value),
    bytes = jsonlite::base64_dec(value),
    value
  )
}

.pt_empty_vector <- function(kind) {
  switch(kind,
    double = numeric(0),
    int64 = numeric(0),
    int32 = integer(0),
    bool = logical(0),
    character(0)
  )
}

.pt_decode_field <- function(value, spec) {
  kind <- spec[["kind"]]
  single <- function(v) if (kind == "message") .pt_decode_message(v, spec[["type"]]) else .pt_decode_scalar(v, kind)
  switch(spec[["cardinality"]],
    single = single(value),
    repeated = if (kind == "message") {
      lapply(value, single)
    } else if (length(value) == 0) {
      .pt_empty_vector(kind)
    } else {
      unlist(lapply(value, single), use.names = FALSE)
    },
    map = lapply(value, single)
  )
}

# A parsed JSON object (from .pt_parse_json) as message `type`: snake_case names, doubles with
# NaN/Inf, int64 as doubles (strings beyond 2^53), enums by name, repeated scalars as vectors,
# repeated messages as lists of named lists. Fields the schema does not know are kept as parsed.
.pt_decode_message <- function(value, type) {
  schema <- .pt_messages[[type]]
  if (!is.list(value) || length(value) == 0) {
    return(.pt_empty_object())
  }
  out <- list()
  for (name in names(value)) {
    field <- .pt_field_of(schema, name)
    if (is.null(field)) {
      out[name] <- list(value[[name]])
    } else {
      out[field$name] <- list(.pt_decode_field(value[[name]], field$spec))
    }
  }
  out
}
