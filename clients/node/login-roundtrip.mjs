// A login-QR round trip against the ZORG-ID engine, as an integrator's portal and phone
// gateway would make it (docs/flows.md, "3. Login by QR"):
//
//   portal  CreateLoginChallenge          -> the login QR (zorgid://login?v=1&c=...&n=...)
//   phone   DescribeLoginChallenge        -> which portal asks (its identity goes into the signature)
//   phone   AnswerLoginChallenge          <- the mobile-ID certificate and a signature over the
//                                            login message by the phone's key
//   portal  GetLoginChallenge             -> AUTHENTICATED, with the person's UZI attributes
//
// The API is read from proto/ at run time (@grpc/proto-loader): no generated code.
// Exit status: 0 logged in, 1 the engine refused or the login did not succeed, 2 bad usage.

import { X509Certificate, createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

const USAGE = `usage: node login-roundtrip.mjs --phone-key FILE --phone-cert FILE
         [--target localhost:50051] [--tls-dir var/tls] [--proto-dir DIR]

  --phone-key    the phone's private key, PEM (EC P-256/P-384 or RSA)
  --phone-cert   the mobile-ID certificate the engine issued for that key, PEM
  --target       the engine's gRPC address; its certificate names localhost (default localhost:50051)
  --tls-dir      the development TLS folder of \`make run\` (default var/tls): client-ca.pem and
                 clients/<role>.pem/.key; the portal and mobile roles are used
  --proto-dir    the API's .proto files (default: proto/ of this repository)`;

const DEADLINE_MS = 30_000;

// A refusal carries google.rpc.Status in the grpc-status-details-bin trailer, with an
// ErrorInfo whose reason is the catalogue code (docs/errors.md). Only these fields are read.
const RPC_STATUS = protobuf.parse(`
  syntax = "proto3";
  package google.rpc;
  message Any { string type_url = 1; bytes value = 2; }
  message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
  message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
`, { keepCase: true }).root;

function parseOptions() {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const { values } = parseArgs({
    options: {
      "phone-key": { type: "string" },
      "phone-cert": { type: "string" },
      target: { type: "string", default: "localhost:50051" },
      "tls-dir": { type: "string", default: "var/tls" },
      "proto-dir": { type: "string", default: join(here, "..", "..", "proto") },
    },
  });
  if (!values["phone-key"] || !values["phone-cert"]) {
    throw new Error("--phone-key and --phone-cert are required");
  }
  return values;
}

/** The LoginService client of one development role (its client certificate). */
function loginClient(api, options, role) {
  const tls = options["tls-dir"];
  const credentials = grpc.credentials.createSsl(
    readFileSync(join(tls, "client-ca.pem")),
    readFileSync(join(tls, "clients", `${role}.key`)),
    readFileSync(join(tls, "clients", `${role}.pem`)),
  );
  return new api.zorgid.v1.LoginService(options.target, credentials);
}

/** One unary call as a promise, with a deadline. */
function call(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + DEADLINE_MS);
    client[method](request, { deadline }, (err, reply) => {
      if (err) {
        err.method = method;
        reject(err);
      } else {
        resolve(reply);
      }
    });
  });
}

/** The catalogue code (ZID-nnnn) of a refusal, from its ErrorInfo; "" if it has none. */
function zidCode(err) {
  const [raw] = err.metadata?.get("grpc-status-details-bin") ?? [];
  if (!raw) return "";
  const status = RPC_STATUS.lookupType("google.rpc.Status").decode(raw);
  const info = status.details.find((d) => d.type_url.endsWith("/google.rpc.ErrorInfo"));
  return info ? RPC_STATUS.lookupType("google.rpc.ErrorInfo").decode(info.value).reason : "";
}

/** The exact bytes the phone signs (docs/flows.md, "The login signature"). */
function loginMessage(challengeId, nonce, portalIdentity, signedAt) {
  const t = signedAt.toISOString().replace(/\.\d{3}Z$/, "Z");
  return Buffer.from(
    `ZORG-ID login v1\nc=${challengeId}\nn=${nonce}\np=${portalIdentity}\nt=${t}\n`,
    "ascii",
  );
}

async function main() {
  const options = parseOptions();
  const definition = protoLoader.loadSync("zorgid/v1/login.proto", {
    includeDirs: [options["proto-dir"]],
    keepCase: true, // field names as in the .proto files
    longs: String,
    enums: String,
    defaults: true,
  });
  const phone = {
    key: createPrivateKey(readFileSync(options["phone-key"])),
    certificate: new X509Certificate(readFileSync(options["phone-cert"])),
  };
  const api = grpc.loadPackageDefinition(definition);
  const portal = loginClient(api, options, "portal");
  const mobile = loginClient(api, options, "mobile");
  try {
    return await roundTrip(portal, mobile, phone);
  } finally {
    portal.close();
    mobile.close();
  }
}

async function roundTrip(portal, mobile, phone) {
  // The portal asks for a login QR and shows it.
  const made = await call(portal, "CreateLoginChallenge", {});
  console.log(`portal: login QR for challenge ${made.challenge_id}`);

  // The phone scans the QR (c= and n=), asks which portal shows it, and, once the user
  // accepts, signs the login message with its key.
  const qr = new URL(made.qr.payload).searchParams;
  const challengeId = qr.get("c");
  const asked = await call(mobile, "DescribeLoginChallenge", { challenge_id: challengeId });
  console.log(`phone: log in to ${JSON.stringify(asked.portal_name)}? the user accepts`);
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000); // whole seconds
  const message = loginMessage(challengeId, qr.get("n"), asked.portal_identity, signedAt);
  // ECDSA keys sign DER-encoded ECDSA with SHA-256, RSA keys PKCS#1 v1.5 with SHA-256.
  await call(mobile, "AnswerLoginChallenge", {
    challenge_id: challengeId,
    certificate: phone.certificate.raw,
    signature: sign("sha256", message, phone.key),
    signed_at: { seconds: signedAt.getTime() / 1000, nanos: 0 },
  });

  // The portal's poll sees the outcome.
  const polled = await call(portal, "GetLoginChallenge", { challenge_id: made.challenge_id });
  if (polled.state !== "LOGIN_STATE_AUTHENTICATED") {
    console.error(`failed: the portal's poll says ${polled.state} ${polled.refusal_code}`.trim());
    return 1;
  }
  const who = polled.attributes;
  console.log(
    `logged in: ${who.common_name}, UZI ${who.uzi_number}, URA ${who.ura}, ` +
      `certificate serial ${polled.certificate_serial} (challenge ${made.challenge_id})`,
  );
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (err.method) {
    const code = zidCode(err);
    console.error(`failed: ${err.method}: ${grpc.status[err.code]} ${code || "(no ZID code)"}`);
    console.error(`  ${err.details}`);
    process.exitCode = 1;
  } else {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
  }
}
