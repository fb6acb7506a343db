package spin.rules.registries_test

import data.spin.rules.registries
import data.spin.test.fixtures as f

image(ref) := f.one({"image": ref}, {})

test_site_registry_is_allowed if {
	count(registries.deny) == 0 with input as image("localhost/spin/busybox:1.35")
	count(registries.deny) == 0 with input as image("registry.example.org/astro/worker:1.4")
}

test_other_registry_is_denied if {
	some v in registries.deny with input as image("quay.io/evil/miner:1")
	v.rule == "registries"
	v.path == "/spec/template/spec/containers/0/image"
}

# The site's registries pinned: a site that admits Docker Hub still passes (a reload runs these tests).
test_short_names_mean_docker_hub if {
	some v in registries.deny with input as image("busybox:1.35") with data.spin.config.registries as ["localhost/spin"]
	contains(v.message, "docker.io/library/busybox")
}

test_look_alike_repository_is_denied if {
	count(registries.deny) == 1 with input as image("localhost/spinner/busybox:1")
	count(registries.deny) == 1 with input as image("localhost:5000/spin/busybox:1")
}

test_digest_is_accepted_without_warning if {
	inp := image("localhost/spin/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	count(registries.deny) == 0 with input as inp
	count(registries.warn) == 0 with input as inp
}

test_latest_and_missing_tags_are_warned if {
	count(registries.warn) == 1 with input as image("localhost/spin/busybox:latest")
	count(registries.warn) == 1 with input as image("localhost/spin/busybox")
	count(registries.warn) == 0 with input as image("localhost/spin/busybox:1.35")
}

test_registry_with_port_parses if {
	registries.parse("localhost:5000/a/b:2") == {"repo": "localhost:5000/a/b", "tag": "2", "digest": ""}
}

test_missing_image_is_denied if {
	inp := f.request(f.deployment([{"name": "web"}], {}))
	count(registries.deny) >= 1 with input as inp
}

test_references_outside_the_grammar_are_denied if {
	count(registries.deny) >= 1 with input as image("localhost/spin/../evil/miner:1")
	count(registries.deny) >= 1 with input as image("localhost/spin/BusyBox:1")
	count(registries.deny) >= 1 with input as image("localhost/spin/busybox:1 ")
	count(registries.deny) == 0 with input as image("localhost:5000/spin/busy_box-x.y:1.35-rc1") with data.spin.config.registries as ["localhost:5000/spin"]
}

test_an_image_that_is_not_a_string_is_denied if {
	count(registries.deny) == 1 with input as image(42)
}
