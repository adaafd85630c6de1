# Runs tests/testthat against a polytrack server that tests/testthat/setup-server.R starts.
library(testthat)
library(polytrack)

test_check("polytrack")
