package spin.rules.no_privileged_test

import data.spin.rules.no_privileged

deployment(sc) := {"request": {"object": {
	"kind": "Deployment",
	"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x", "securityContext": sc}]}}},
}}}

test_privileged_container_denied if {
	some v in no_privileged.deny with input as deployment({"privileged": true})
	v.rule == "no-privileged"
	v.path == "/spec/template/spec/containers/0/securityContext/privileged"
}

test_unprivileged_container_allowed if {
	count(no_privileged.deny) == 0 with input as deployment({"privileged": false})
}

test_init_container_of_cronjob_denied if {
	job := {"request": {"object": {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
		"containers": [{"name": "ok", "image": "x"}],
		"initContainers": [{"name": "setup", "image": "x", "securityContext": {"privileged": true}}],
	}}}}}}}}
	some v in no_privileged.deny with input as job
	v.path == "/spec/jobTemplate/spec/template/spec/initContainers/0/securityContext/privileged"
}

# A container without a name still gets its violation: a message built from an
# undefined name must not make the refusal vanish.
test_unnamed_container_is_still_denied if {
	obj := {"kind": "Pod", "metadata": {}, "spec": {"containers": [{"image": "x", "securityContext": {"privileged": true}}]}}
	count(no_privileged.deny) == 1 with input as {"request": {"object": obj}}
}
