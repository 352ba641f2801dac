{{/*
A Deployment of one binary; both take the same shape. Called with
(dict "ctx" $ "component" "worker" "v" <the component's values> "args" <its own flags>).
*/}}
{{- define "certflow.deployment" -}}
{{- $ := .ctx -}}
{{- $v := .v -}}
{{- $c := dict "ctx" $ "component" .component -}}
{{- $name := printf "%s-%s" (include "certflow.fullname" $) .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ include "certflow.namespace" $ }}
  labels:
    {{- include "certflow.componentLabels" $c | nindent 4 }}
  {{- with $v.deploymentAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  replicas: {{ $v.replicaCount }}
  selector:
    matchLabels:
      {{- include "certflow.selectorLabels" $c | nindent 6 }}
  {{- with $v.strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "certflow.componentLabels" $c | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ .serviceAccountName }}
      automountServiceAccountToken: {{ $v.automountServiceAccountToken }}
      enableServiceLinks: false
      {{- with (default $.Values.global.priorityClassName $v.priorityClassName) }}
      priorityClassName: {{ . | quote }}
      {{- end }}
      {{- with $.Values.global.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (default $v.podSecurityContext $v.securityContext) }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "certflow.image" $ | quote }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          command: ["/usr/local/bin/certflow-{{ .component }}"]
          args:
            {{- include "certflow.commonArgs" $ | nindent 12 }}
            - --metrics-listen-address={{ $v.metrics.listenAddress }}
            - --healthz-listen-address={{ $v.healthz.listenAddress }}
            {{- with .args }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraArgs }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            {{- include "certflow.temporalEnv" $ | nindent 12 }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if or $v.metrics.listenAddress $v.healthz.listenAddress }}
          ports:
            {{- with $v.metrics.listenAddress }}
            - name: http-metrics
              containerPort: {{ include "certflow.port" . }}
              protocol: TCP
            {{- end }}
            {{- with $v.healthz.listenAddress }}
            - name: http-healthz
              containerPort: {{ include "certflow.port" . }}
              protocol: TCP
            {{- end }}
          {{- end }}
          {{- with $v.livenessProbe }}
          {{- if and .enabled $v.healthz.listenAddress }}
          livenessProbe:
            httpGet:
              port: http-healthz
              path: /livez
              scheme: HTTP
            initialDelaySeconds: {{ .initialDelaySeconds }}
            periodSeconds: {{ .periodSeconds }}
            timeoutSeconds: {{ .timeoutSeconds }}
            successThreshold: {{ .successThreshold }}
            failureThreshold: {{ .failureThreshold }}
          {{- end }}
          {{- end }}
          {{- with $v.readinessProbe }}
          {{- if and .enabled $v.healthz.listenAddress }}
          readinessProbe:
            httpGet:
              port: http-healthz
              path: /readyz
              scheme: HTTP
            initialDelaySeconds: {{ .initialDelaySeconds }}
            periodSeconds: {{ .periodSeconds }}
            timeoutSeconds: {{ .timeoutSeconds }}
            successThreshold: {{ .successThreshold }}
            failureThreshold: {{ .failureThreshold }}
          {{- end }}
          {{- end }}
          {{- with $v.containerSecurityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- $mounts := trim (include "certflow.temporalTLSVolumeMount" $) }}
          {{- if or $mounts $v.volumeMounts }}
          volumeMounts:
            {{- with $mounts }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $v.volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- end }}
      {{- $volumes := trim (include "certflow.temporalTLSVolume" $) }}
      {{- if or $volumes $v.volumes }}
      volumes:
        {{- with $volumes }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with $v.volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
