package spin.rules.annotations_test

import data.spin.rules.annotations
import data.spin.test.fixtures as f

with_pod_annotations(a) := f.request({
	"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"},
	"spec": {"template": {"metadata": {"annotations": a}, "spec": {"containers": [f.container({})]}}},
})

test_seccomp_unconfined_is_refused if {
	some v in annotations.deny with input as with_pod_annotations({"seccomp.security.alpha.kubernetes.io/pod": "unconfined"})
	v.path == "/spec/template/metadata/annotations/seccomp.security.alpha.kubernetes.io~1pod"
	contains(v.message, "runtime")
}

test_never_list_wins_over_the_site if {
	site := {"annotations": {"allow": ["bind-mount-options", "io.podman.*", "container.seccomp.security.alpha.kubernetes.io/web"]}}
	inp := with_pod_annotations({"bind-mount-options": "/global/x:U", "io.podman.annotations.privileged/web": "true", "container.seccomp.security.alpha.kubernetes.io/web": "unconfined"})
	count(annotations.deny) == 3 with input as inp with data.spin.config as site
}

test_unknown_annotation_is_refused_by_default if {
	count(annotations.deny) == 1 with input as with_pod_annotations({"example.org/anything": "x"})
}

test_site_allowlist_exact_and_prefix if {
	site := {"annotations": {"allow": ["example.org/note", "org.example.*"]}}
	count(annotations.deny) == 0 with input as with_pod_annotations({"example.org/note": "a b", "org.example.team": "x y"}) with data.spin.config as site
}

test_apparmor_on_the_pod_is_left_to_pss_apparmor if {
	count(annotations.deny) == 0 with input as with_pod_annotations({"container.apparmor.security.beta.kubernetes.io/web": "unconfined"})
}

test_apparmor_on_the_deployment_is_refused if {
	inp := f.request({"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": {"name": "web", "annotations": {"container.apparmor.security.beta.kubernetes.io/web": "runtime/default"}},
		"spec": {"template": {"spec": {"containers": [f.container({})]}}}})
	count(annotations.deny) == 1 with input as inp
}

test_every_metadata_of_a_cronjob_is_read if {
	a := {"example.org/x": "1"}
	inp := f.request({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "annotations": a}, "spec": {"jobTemplate": {
		"metadata": {"annotations": a},
		"spec": {"template": {"metadata": {"annotations": a}, "spec": {"containers": [f.container({})]}}},
	}}})
	paths := {v.path | some v in annotations.deny} with input as inp
	paths == {"/metadata/annotations/example.org~1x", "/spec/jobTemplate/metadata/annotations/example.org~1x", "/spec/jobTemplate/spec/template/metadata/annotations/example.org~1x"}
}

test_service_and_ingress_annotations_are_read if {
	inp := f.request({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i", "annotations": {"nginx.ingress.kubernetes.io/server-snippet": "x"}}})
	count(annotations.deny) == 1 with input as inp
}

test_the_gateways_own_are_allowed if {
	inp := f.request({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "annotations": {"spin.io/published": "[]", "spin.io/depends-on": "{}"}}})
	count(annotations.deny) == 0 with input as inp
}

test_a_delete_call_without_an_object_is_decided if {
	inp := {"request": {"operation": "DELETE", "kind": {"kind": "Deployment"}, "object": null, "oldObject": {"kind": "Deployment", "metadata": {"name": "web"}}}}
	count(annotations.deny) == 0 with input as inp
}

test_the_gateways_requested_by_on_the_object_is_decided_by_the_webhook if {
	inp := f.request({"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": {"name": "web", "annotations": {"spin.io/requested-by": "alice"}},
		"spec": {"template": {"spec": {"containers": [f.container({})]}}}})
	count(annotations.deny) == 0 with input as inp
}

test_requested_by_on_a_pod_template_is_refused if {
	count(annotations.deny) == 1 with input as with_pod_annotations({"spin.io/requested-by": "alice"})
}
