package conformance

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

func sampleReport() *Report {
	rep := newReport(Options{Profiles: []string{ProfileSMI, ProfileMeshGRPC}, Mesh: Mesh{Name: "linkerd", Version: "2.14.1", Cluster: "c1"},
		ExtendedFeatures: []Feature{FeatureSMIHeaderMatches}})
	smi, _ := ProfileByName(ProfileSMI)
	rep.add(smi, []TestResult{
		{Name: "smi-access-default-deny", Spec: SpecAccess, Outcome: Pass, Assertions: []Assertion{{Description: "d", Expected: "denied", Observed: "status 403", Passed: true}}},
		{Name: "smi-access-allow", Spec: SpecAccess, Outcome: Fail, Reason: "x: expected a, observed b",
			Assertions: []Assertion{{Description: "x", Expected: "a", Observed: "b"}}},
		{Name: "smi-specs-headers", Spec: SpecSpecs, Extended: true, Outcome: Pass,
			Assertions: []Assertion{{Passed: true}, {Passed: true}}},
		{Name: "smi-access-port", Spec: SpecAccess, Extended: true, Outcome: Skip, Reason: "extended feature SMITrafficAccessPorts not claimed"},
		{Name: "smi-split-weighted", Spec: SpecSplit, Outcome: Fail, Reason: "setup: boom"},
	}, Options{ExtendedFeatures: []Feature{FeatureSMIHeaderMatches}})
	grpc, _ := ProfileByName(ProfileMeshGRPC)
	rep.add(grpc, []TestResult{{Name: "mesh-grpcroute-weight", Outcome: Pass, Assertions: []Assertion{{Passed: true}}}}, Options{})
	return rep
}

// Gateway API's rule: failure > partial > success, core and extended apart; the SMI
// view counts assertions, not setup steps.
func TestResultRuleAndSpecView(t *testing.T) {
	rep := sampleReport()
	smi := rep.Profiles[0]
	if smi.Core.Result != ResultFailure || smi.Core.Statistics != (Statistics{Passed: 1, Failed: 2}) {
		t.Errorf("SMI core %+v", smi.Core)
	}
	if smi.Extended.Result != ResultPartial || smi.Extended.Statistics != (Statistics{Passed: 1, Skipped: 1}) ||
		len(smi.Extended.SupportedFeatures) != 1 || len(smi.Extended.UnsupportedFeatures) != 2 {
		t.Errorf("SMI extended %+v", smi.Extended)
	}
	if rep.Profiles[1].Core.Result != ResultSuccess || rep.Profiles[1].Extended != nil {
		t.Errorf("GRPC %+v", rep.Profiles[1])
	}
	if rep.Conformant() {
		t.Error("a failed core test still conformant")
	}
	views := map[string]SpecView{}
	for _, v := range smi.SMISpecs {
		views[v.Spec] = v
	}
	if v := views[SpecAccess]; v.Assertions != 2 || v.Passed != 1 || v.Capability != "HALF" || v.Status != "FAILED" || v.Percentage != 50 {
		t.Errorf("access view %+v", v)
	}
	if v := views[SpecSpecs]; v.Capability != "FULL" || v.Status != "PASSED" || v.Percentage != 100 {
		t.Errorf("specs view %+v", v)
	}
	// The split test failed in setup: no assertion, so nothing counted.
	if v := views[SpecSplit]; v.Assertions != 0 || v.Capability != "NONE" {
		t.Errorf("split view %+v", v)
	}
	for _, r := range []string{ResultSuccess, ResultPartial, ResultFailure} {
		_ = r
	}
	if resultOf(Statistics{Passed: 3}) != ResultSuccess || resultOf(Statistics{Skipped: 1, Passed: 1}) != ResultPartial ||
		resultOf(Statistics{Failed: 1, Skipped: 1}) != ResultFailure {
		t.Error("result rule")
	}
}

func TestSignVerifyAndTamper(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateKey()
	rep := sampleReport()
	if err := rep.Sign(key); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatYAML, FormatJSON} {
		var buf bytes.Buffer
		if err := rep.Write(&buf, format); err != nil {
			t.Fatal(err)
		}
		got, err := Verify(buf.Bytes(), key.Public().(ed25519PublicKey))
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, buf.String())
		}
		if got.Profiles[0].Tests[1].Assertions[0].Observed != "b" || got.Mesh.Name != "linkerd" {
			t.Errorf("%s: decoded %+v", format, got.Mesh)
		}
		if _, err := Verify(buf.Bytes(), other.Public().(ed25519PublicKey)); err == nil || !strings.Contains(err.Error(), "not trusted") {
			t.Errorf("%s: untrusted signer: %v", format, err)
		}
		// Tampering: a failure turned into a pass.
		tampered := strings.Replace(buf.String(), "failure", "success", 1)
		if tampered == buf.String() {
			t.Fatal("nothing to tamper with")
		}
		if _, err := Verify([]byte(tampered)); err == nil || !strings.Contains(err.Error(), "altered") {
			t.Errorf("%s: tampered report: %v", format, err)
		}
		// A field added is refused, naming it.
		added := strings.Replace(buf.String(), `"mode"`, `"bonus": 1, "mode"`, 1)
		if format == FormatYAML {
			added = strings.Replace(buf.String(), "mode:", "bonus: 1\nmode:", 1)
		}
		if _, err := Verify([]byte(added)); err == nil || !strings.Contains(err.Error(), "bonus") {
			t.Errorf("%s: added field: %v", format, err)
		}
	}
	unsigned := sampleReport()
	var buf bytes.Buffer
	_ = unsigned.Write(&buf, FormatYAML)
	if _, err := Verify(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("unsigned: %v", err)
	}
	// Keys round-trip through PEM and seeds.
	pemKey, _ := MarshalPrivateKey(key)
	if k, err := ParsePrivateKey(pemKey); err != nil || !k.Equal(key) {
		t.Errorf("PEM key: %v", err)
	}
	pemPub, _ := MarshalPublicKey(key.Public().(ed25519PublicKey))
	if k, err := ParsePublicKey(pemPub); err != nil || !k.Equal(key.Public()) {
		t.Errorf("PEM public key: %v", err)
	}
	if _, err := ParsePrivateKey([]byte("nope")); err == nil {
		t.Error("bad key accepted")
	}
}

func TestMarkdownAndJUnit(t *testing.T) {
	rep := sampleReport()
	var md bytes.Buffer
	_ = rep.Write(&md, FormatMarkdown)
	for _, want := range []string{"archived by the CNCF on 2023-10-03", "| core | **failure** | 1 | 2 | 0 |", "| traffic-access | 2 | 1 | HALF | FAILED | 50 |",
		"x: expected a, observed b", "How to reproduce", "Not signed"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var ju bytes.Buffer
	if err := rep.Write(&ju, FormatJUnit); err != nil {
		t.Fatal(err)
	}
	var parsed junitSuites
	if err := xml.Unmarshal(ju.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Suites) != 2 || parsed.Suites[0].Failures != 2 || parsed.Suites[0].Skipped != 1 || parsed.Suites[0].Tests != 5 {
		t.Errorf("junit %+v", parsed.Suites)
	}
	if err := rep.Write(&ju, "pdf"); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestParseProfiles(t *testing.T) {
	if got, err := ParseProfiles("smi, MESH-HTTP"); err != nil || strings.Join(got, ",") != "SMI,MESH-HTTP" {
		t.Errorf("%v %v", got, err)
	}
	if _, err := ParseProfiles("SMI,HTTP"); err == nil || !strings.Contains(err.Error(), `"HTTP"`) {
		t.Errorf("unknown profile: %v", err)
	}
}

// Every registered test belongs to a known profile and uses features of it.
func TestRegistry(t *testing.T) {
	for _, test := range Tests("") {
		p, ok := ProfileByName(test.Profile)
		if !ok {
			t.Errorf("%s: profile %q", test.ShortName, test.Profile)
			continue
		}
		for _, f := range test.Features {
			known := p.isCore(f)
			for _, e := range p.Extended {
				known = known || e == f
			}
			if !known {
				t.Errorf("%s: feature %s not in profile %s", test.ShortName, f, p.Name)
			}
		}
		if test.Profile == ProfileSMI && test.Spec == "" {
			t.Errorf("%s: no SMI spec", test.ShortName)
		}
	}
	if n := len(Tests(ProfileSMI)); n < 12 {
		t.Errorf("SMI has %d tests", n)
	}
}
