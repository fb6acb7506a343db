package spin.rules.pss_apparmor_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_apparmor

annotated(value) := f.deployment({"containers": [{"name": "c"}]}, {"container.apparmor.security.beta.kubernetes.io/c": value})

test_unconfined_annotation_on_a_template_denied if {
	some v in pss_apparmor.deny with input as annotated("unconfined")
	v.path == "/spec/template/metadata/annotations/container.apparmor.security.beta.kubernetes.io~1c"
}

test_local_and_default_profiles_allowed if {
	count(pss_apparmor.deny) == 0 with input as annotated("localhost/foo")
	count(pss_apparmor.deny) == 0 with input as annotated("runtime/default")
}

test_unconfined_field_denied if {
	some v in pss_apparmor.deny with input as f.one({"appArmorProfile": {"type": "Unconfined"}})
	v.path == "/spec/containers/0/securityContext/appArmorProfile/type"
}

test_other_annotations_ignored if {
	count(pss_apparmor.deny) == 0 with input as f.deployment({"containers": []}, {"example.org/apparmor": "unconfined"})
}
