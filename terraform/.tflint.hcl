# tflint with its bundled `terraform` ruleset only: plugins would be downloaded by `tflint --init`
# (from GitHub), which CI cannot reach. The AWS ruleset is left out: building it from the Go
# module proxy took longer than the 6-minute budget on a 2-core machine (docs/infrastructure.md).
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
