/// <reference types="vitest/config" />
// The web UI's build (into dist/, which the gateway serves) and its component tests.
// `npm run dev` proxies the API to a gateway on FORGE_GATEWAY_URL (default localhost:8080).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const gateway = process.env.FORGE_GATEWAY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No source map: it would ship the whole source (2 MB) to every browser that opens devtools.
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      "/api": { target: gateway, ws: true, changeOrigin: false },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    restoreMocks: true,
  },
});
