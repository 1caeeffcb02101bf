// The socket.io side of Herald's realtime benchmark (scripts/lib/bench_realtime.sh).
// The usual way to build the same service with socket.io: each connection
// authenticates with the same HS256 user token and joins its per-user room
// "<env>:<user>"; every worker reads the herald:rt fan-out stream (XREAD BLOCK,
// like every Herald gateway) and emits each event to its room. WebSocket
// transport only, no compression. Workers: node's cluster module (as many as
// Herald gateways in the same run). Env: PORT, WORKERS, SECRET (hex), REDIS_PORT.
"use strict";

const cluster = require("cluster");
const crypto = require("crypto");
const http = require("http");

const PORT = Number(process.env.PORT || 3000);
const WORKERS = Number(process.env.WORKERS || 1);
const SECRET = Buffer.from(process.env.SECRET || "", "hex");
const REDIS_PORT = Number(process.env.REDIS_PORT || 6379);

function verify(token) {
  const parts = String(token || "").split(".");
  if (parts.length !== 3) return null;
  const mac = crypto.createHmac("sha256", SECRET).update(parts[0] + "." + parts[1]).digest("base64url");
  if (mac.length !== parts[2].length || !crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(parts[2])))
    return null;
  const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  if (claims.typ !== "user" || claims.exp < Date.now() / 1000) return null;
  return claims;
}

if (cluster.isPrimary && WORKERS > 1) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const id in cluster.workers) cluster.workers[id].kill();
    process.exit(0);
  });
} else {
  const { Server } = require("socket.io");
  const Redis = require("ioredis");
  const server = http.createServer();
  const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
  io.use((socket, next) => {
    const c = verify(socket.handshake.auth && socket.handshake.auth.token);
    if (!c) return next(new Error("unauthorized"));
    socket.data.room = c.env + ":" + c.sub;
    next();
  });
  io.on("connection", (socket) => {
    socket.join(socket.data.room);
    socket.emit("n", { type: "connected" });
  });
  server.listen(PORT, "127.0.0.1");
  const redis = new Redis({ port: REDIS_PORT, host: "127.0.0.1" });
  let last = "$";
  (async function read() {
    for (;;) {
      const res = await redis.xread("COUNT", 1024, "BLOCK", 1000, "STREAMS", "herald:rt", last);
      if (!res) continue;
      for (const [, entries] of res) {
        for (const [id, fields] of entries) {
          last = id;
          const f = {};
          for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
          const room = f.e + ":" + f.u;
          if (io.sockets.adapter.rooms.has(room)) io.to(room).emit("n", JSON.parse(f.ev));
        }
      }
    }
  })().catch((e) => { console.error(e); process.exit(1); });
}
