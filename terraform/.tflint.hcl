# tflint with its bundled `terraform` ruleset only: plugins would be downloaded by `tflint --init`
# (from GitHub), which CI cannot reach. The AWS ruleset is left out: the Go module proxy here
# refuses it (403), see docs/infrastructure.md.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
