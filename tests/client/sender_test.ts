import assert from "node:assert/strict";
import { AnswerMemory } from "../../lib/client/answer_memory.ts";
import {
  DocumentRefusedError,
  sendDocument,
  SendError,
} from "../../lib/client/sender.ts";
import { createRotatingSender } from "../../lib/client/rotating_sender.ts";
import { formatHostPort } from "../../lib/shared/net.ts";
import { silentLogger } from "../../lib/shared/log.ts";
import { freePort } from "../_helpers/net.ts";

/** A TCP sink that records what each connection sent until EOF. */
function sink() {
  const received: string[] = [];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    for await (const conn of listener) {
      const chunks: number[] = [];
      const buf = new Uint8Array(1024);
      let n;
      while ((n = await conn.read(buf)) !== null) {
        chunks.push(...buf.subarray(0, n));
      }
      // Record before closing: the sender returns once it sees our close.
      received.push(new TextDecoder().decode(new Uint8Array(chunks)));
      conn.close();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    async [Symbol.asyncDispose]() {
      listener.close();
      await done.catch(() => {});
    },
  };
}

Deno.test("sendDocument writes exactly one netstring and closes", async () => {
  await using s = sink();
  await sendDocument({ host: "127.0.0.1", port: s.port }, "héllo");
  await sendDocument({ host: "127.0.0.1", port: s.port }, "");
  assert.deepEqual(s.received, ["6:héllo,", "0:,"]);
});

Deno.test("a refused connection is a SendError naming the server", async () => {
  const port = freePort();
  const error = await sendDocument({ host: "127.0.0.1", port }, "x").catch((
    e,
  ) => e);
  assert.ok(error instanceof SendError);
  assert.match(
    error.message,
    new RegExp(`^Cannot send to 127\\.0\\.0\\.1:${port}: `),
  );
});

Deno.test("--ack off: a server that never closes its side still counts as delivered", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    await sendDocument(
      { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
      "x",
      { timeoutMs: 200, ack: "off" },
    );
    await assert.rejects(
      sendDocument(
        { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
        "x",
        { timeoutMs: 200 },
      ),
      SendError,
      "no answer within the timeout is not delivered, with acknowledgements",
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
  }
});

Deno.test("formatHostPort brackets IPv6 hosts", () => {
  assert.equal(formatHostPort({ host: "::1", port: 1 }), "[::1]:1");
  assert.equal(formatHostPort({ host: "a.b", port: 2 }), "a.b:2");
});

Deno.test("the rotating sender spreads documents and skips a dead server", async () => {
  await using a = sink();
  await using b = sink();
  const dead = freePort();
  const send = createRotatingSender([
    { host: "127.0.0.1", port: a.port },
    { host: "127.0.0.1", port: dead },
    { host: "127.0.0.1", port: b.port },
  ], { timeoutMs: 500 });
  for (const doc of ["1", "2", "3", "4"]) await send(doc);
  // a, (dead→) b, a, (dead→) b
  assert.deepEqual(a.received, ["1:1,", "1:3,"]);
  assert.deepEqual(b.received, ["1:2,", "1:4,"]);
  const none = createRotatingSender([{ host: "127.0.0.1", port: dead }], {
    timeoutMs: 500,
  });
  await assert.rejects(none("5"), SendError);
});

/** A server that answers each connection with `answers(i)` (i from 0) and closes. */
function answering(answers: (i: number) => string | undefined) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let i = 0;
  const frames: string[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(4096);
      let text = "";
      let n;
      while ((n = await conn.read(buf)) !== null) {
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      frames.push(text);
      const answer = answers(i++);
      if (answer !== undefined) {
        await conn.write(new TextEncoder().encode(answer)).catch(() => {});
      }
      conn.close();
    }
  })();
  return {
    server: { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
    frames,
    async [Symbol.asyncDispose]() {
      listener.close();
      await done.catch(() => {});
    },
  };
}

Deno.test("--ack: an original-style server (reads, closes, never answers) is delivered in auto, failed in required", async () => {
  await using stub = answering(() => undefined);
  assert.equal(await sendDocument(stub.server, "a", { ack: "auto" }), "close");
  assert.equal(await sendDocument(stub.server, "a", { ack: "off" }), "close");
  await assert.rejects(
    sendDocument(stub.server, "a", { ack: "required" }),
    SendError,
    "closed without an acknowledgement",
  );
  assert.deepEqual(stub.frames, ["1:a,", "1:a,", "1:a,"]);
});

Deno.test("--ack auto: once a server has answered, a close without ok is not delivered", async () => {
  await using srv = answering((i) => i === 0 ? "2:ok," : undefined);
  const answered = new AnswerMemory();
  assert.equal(await sendDocument(srv.server, "a", { answered }), "ok");
  await assert.rejects(
    sendDocument(srv.server, "b", { answered }),
    SendError,
    "closed without an acknowledgement",
  );
});

Deno.test("err <reason> is final: DocumentRefusedError, no other server is tried", async () => {
  await using refusing = answering(() => "18:err not_a_document,");
  await using good = answering(() => "2:ok,");
  const results: string[] = [];
  const send = createRotatingSender([refusing.server, good.server], {
    timeoutMs: 1000,
    onResult: (r) => results.push(r),
  });
  const error = await send("x").catch((e) => e);
  assert.ok(error instanceof DocumentRefusedError);
  assert.equal(error.reason, "not_a_document");
  assert.deepEqual(results, ["err"]);
  assert.equal(good.frames.length, 0);
  assert.deepEqual(await send("y"), { server: good.server, delivery: "ok" });
});

Deno.test("a server that failed is tried last during its cool-down", async () => {
  const dead = { host: "127.0.0.1", port: freePort() };
  await using good = answering(() => "2:ok,");
  let t = 0;
  const results: string[] = [];
  const send = createRotatingSender([dead, good.server], {
    timeoutMs: 1000,
    cooldownMs: 5000,
    now: () => t,
    onResult: (r) => results.push(r),
  });
  for (let i = 0; i < 4; i++) await send(String(i));
  // The dead one failed once, then was left last: every send went to good.
  assert.deepEqual(results, ["none", "ok", "ok", "ok", "ok"]);
  t = 6000;
  await send("after");
  assert.deepEqual(results.slice(5), ["none", "ok"]);
});

Deno.test("--ack auto: a server that answered, then closes without answering 3 times in a row, is taken to be an original until it answers again", async () => {
  // ok, then 3 silent closes, a silent close, ok, then silent again.
  const script = [
    "2:ok,",
    undefined,
    undefined,
    undefined,
    undefined,
    "2:ok,",
    undefined,
  ];
  await using srv = answering((i) => script[i]);
  const warnings: string[] = [];
  const log = {
    ...silentLogger,
    warn: (line: string) => void warnings.push(line),
  };
  const answered = new AnswerMemory({ log });
  const send = () =>
    sendDocument(srv.server, "a", { answered }).then(
      (delivery) => delivery,
      (error) => error instanceof SendError ? "none" : Promise.reject(error),
    );
  const outcomes = [];
  for (let i = 0; i < script.length; i++) outcomes.push(await send());
  assert.deepEqual(outcomes, [
    "ok",
    "none",
    "none",
    "close", // the third close in a row counts as delivered
    "close", // an original from then on
    "ok", // answering again
    "none", // so a close is not delivery any more
  ]);
  assert.equal(answered.stats.becameSilent, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], new RegExp(formatHostPort(srv.server)));
});

Deno.test("--ack auto: an ok between silent closes starts the count over", async () => {
  const script = ["2:ok,", undefined, undefined, "2:ok,", undefined, undefined];
  await using srv = answering((i) => script[i]);
  const answered = new AnswerMemory();
  for (let i = 0; i < script.length; i++) {
    const outcome = await sendDocument(srv.server, "a", { answered }).catch(
      (error) => error instanceof SendError ? "none" : Promise.reject(error),
    );
    assert.equal(outcome, script[i] ? "ok" : "none", `send ${i}`);
  }
  assert.equal(answered.stats.becameSilent, 0);
});

Deno.test("--ack required never counts a close, however many in a row", async () => {
  await using srv = answering((i) => i === 0 ? "2:ok," : undefined);
  const answered = new AnswerMemory();
  assert.equal(
    await sendDocument(srv.server, "a", { answered, ack: "required" }),
    "ok",
  );
  for (let i = 0; i < 5; i++) {
    await assert.rejects(
      sendDocument(srv.server, "a", { answered, ack: "required" }),
      SendError,
      "closed without an acknowledgement",
    );
  }
  assert.equal(answered.stats.becameSilent, 0);
});
