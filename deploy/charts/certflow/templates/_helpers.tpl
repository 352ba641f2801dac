{{/* The chart's name (nameOverride). */}}
{{- define "certflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object's name: the release name when it contains the chart's name
(release "certflow": certflow-worker), else <release>-<name>. Cluster-scoped objects
carry it too, so two releases do not clash.
*/}}
{{- define "certflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "certflow.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "certflow.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "certflow.clusterResourceNamespace" -}}
{{- default (include "certflow.namespace" .) .Values.clusterResourceNamespace -}}
{{- end -}}

{{- define "certflow.workerName" -}}
{{- include "certflow.fullname" . }}-worker
{{- end -}}

{{- define "certflow.k8swatchName" -}}
{{- include "certflow.fullname" . }}-k8swatch
{{- end -}}

{{- define "certflow.temporalName" -}}
{{- include "certflow.fullname" . }}-temporal
{{- end -}}

{{- define "certflow.workerServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "certflow.workerName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "certflow.k8swatchServiceAccountName" -}}
{{- if .Values.k8swatch.serviceAccount.create -}}
{{- default (include "certflow.k8swatchName" .) .Values.k8swatch.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.k8swatch.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "certflow.labels" -}}
app.kubernetes.io/name: {{ include "certflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of a component: (dict "ctx" $ "component" "worker"). */}}
{{- define "certflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "certflow.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of a component's objects: (dict "ctx" $ "component" "worker"). */}}
{{- define "certflow.componentLabels" -}}
{{ include "certflow.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image of both binaries: repository@digest or repository:tag (default appVersion). */}}
{{- define "certflow.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The port of a host:port listen address. */}}
{{- define "certflow.port" -}}
{{- regexReplaceAll "^.*:" . "" -}}
{{- end -}}

{{/* TEMPORAL_ADDRESS: temporal.address, else the embedded server's Service. */}}
{{- define "certflow.temporalAddress" -}}
{{- if .Values.temporal.address -}}
{{- .Values.temporal.address -}}
{{- else if .Values.temporal.embedded.enabled -}}
{{- printf "%s.%s.svc:7233" (include "certflow.temporalName" .) (include "certflow.namespace" .) -}}
{{- else -}}
{{- fail "temporal.address is required when temporal.embedded.enabled is false" -}}
{{- end -}}
{{- end -}}

{{/* Where the temporal.tls.secretName Secret is mounted. */}}
{{- define "certflow.temporalTLSDir" -}}
/etc/certflow/temporal-tls
{{- end -}}

{{/*
The Temporal client configuration of both binaries: the TEMPORAL_* environment that
Temporal's standard client configuration (go.temporal.io/sdk/contrib/envconfig) reads.
*/}}
{{- define "certflow.temporalEnv" -}}
- name: TEMPORAL_ADDRESS
  value: {{ include "certflow.temporalAddress" . | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
{{- with .Values.temporal.tls }}
{{- if .enabled }}
- name: TEMPORAL_TLS
  value: "true"
{{- end }}
{{- if .serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ .serverName | quote }}
{{- end }}
{{- if .secretName }}
{{- if .caKey }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: {{ printf "%s/%s" (include "certflow.temporalTLSDir" $) .caKey | quote }}
{{- end }}
{{- if .mtls }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: {{ printf "%s/tls.crt" (include "certflow.temporalTLSDir" $) | quote }}
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: {{ printf "%s/tls.key" (include "certflow.temporalTLSDir" $) | quote }}
{{- end }}
{{- else if .mtls }}
{{- fail "temporal.tls.mtls needs temporal.tls.secretName (a Secret with tls.crt and tls.key)" }}
{{- end }}
{{- end }}
{{- with .Values.temporal.apiKey }}
{{- if .secretName }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .secretName | quote }}
      key: {{ .key | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The flags both binaries take from the chart. */}}
{{- define "certflow.commonArgs" -}}
- --v={{ .Values.global.logLevel }}
- --cluster-resource-namespace={{ include "certflow.clusterResourceNamespace" . }}
{{- with .Values.temporal.taskQueue }}
- --task-queue={{ . }}
{{- end }}
{{- with .Values.featureGates }}
- --feature-gates={{ . }}
{{- end }}
{{- if .Values.payloadCodec.enabled }}
- --payload-codec-secret={{ include "certflow.namespace" . }}/{{ include "certflow.payloadCodecSecretName" . }}
{{- end }}
{{- end -}}

{{- define "certflow.payloadCodecSecretName" -}}
{{- default (printf "%s-payload-codec" (include "certflow.fullname" .)) .Values.payloadCodec.secretName -}}
{{- end -}}

{{/* The volume of the temporal.tls.secretName Secret, when set. */}}
{{- define "certflow.temporalTLSVolume" -}}
{{- if .Values.temporal.tls.secretName }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.secretName | quote }}
{{- end }}
{{- end -}}

{{- define "certflow.temporalTLSVolumeMount" -}}
{{- if .Values.temporal.tls.secretName }}
- name: temporal-tls
  mountPath: {{ include "certflow.temporalTLSDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* "true" when the watcher runs gateway-shim: config.gatewayAPI.enabled, else config.enableGatewayAPI. */}}
{{- define "certflow.gatewayAPI" -}}
{{- $c := .Values.config | default dict -}}
{{- $on := $c.enableGatewayAPI | default false -}}
{{- if and (kindIs "map" $c.gatewayAPI) (hasKey ($c.gatewayAPI | default dict) "enabled") }}{{ $on = $c.gatewayAPI.enabled }}{{ end -}}
{{- ternary "true" "false" (eq (toString $on) "true") -}}
{{- end -}}
