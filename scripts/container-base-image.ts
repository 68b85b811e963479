// Makes the container test's base image before the suite runs (CI calls it): on a machine that cannot
// pull node:20-bookworm-slim, the stand-in takes a debootstrap of Debian bookworm, which on a cold
// machine can take longer than the test runner gives one test file. Made once per machine; a no-op
// when the image is there.
//   node --import tsx scripts/container-base-image.ts
import { baseNodeImage, dockerMissing } from '../test/helpers/container.js';

const missing = dockerMissing();
if (missing !== null) {
  console.log(`no base image made: ${missing}`);
} else {
  const started = Date.now();
  const image = baseNodeImage((line) => console.log(line));
  console.log(`base image ${image} (${Math.round((Date.now() - started) / 1000)} s)`);
}
