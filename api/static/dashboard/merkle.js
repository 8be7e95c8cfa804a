// RFC 9162 section 2.1.3.2: checks an inclusion proof from /v1/audit/proof/inclusion in the browser.
// The leaf hash must be SHA-256(0x00 || the event's chain hash) and the audit path must lead to the
// root hash of the signed checkpoint. Nothing is counted or estimated here: the answer is yes or no.

const bytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (pair) => parseInt(pair, 16));
const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

async function sha256(prefix, ...parts) {
  const joined = new Uint8Array(1 + parts.reduce((n, part) => n + part.length, 0));
  joined[0] = prefix;
  let at = 1;
  for (const part of parts) { joined.set(part, at); at += part.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

/** True when ``eventHash`` is the proof's leaf. */
export async function leafMatches(eventHash, proof) {
  return hex(await sha256(0, bytes(eventHash))) === proof.leaf_hash;
}

/** True when the audit path leads from the leaf to ``rootHash`` (hex). */
export async function rootMatches(proof, rootHash) {
  let fn = proof.leaf_index;
  let sn = proof.tree_size - 1;
  if (fn > sn) return false;
  let r = bytes(proof.leaf_hash);
  for (const p of proof.audit_path.map(bytes)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(1, p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(1, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && hex(r) === rootHash;
}
