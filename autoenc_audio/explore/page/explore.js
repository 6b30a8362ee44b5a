// aea explore: the page's own code. Data arrive as classic scripts (AEA[key], written by aea explore) so that the
// page works from file:// as from a server; onnxruntime-web gets its glue module as a Blob URL and its WebAssembly
// binary as bytes, never by fetch. window.aeaExplore is the page's state, read by aea's browser tests.
(() => {
  'use strict';
  const AEA = self.AEA || {};
  const site = AEA.site;
  const $ = id => document.getElementById(id);
  const counted = (count, noun) => `${count} ${noun}${count === 1 ? '' : 's'}`;  // 1 clip, 2 clips
  const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  // A label past the first 10: hues a golden angle apart at three lightnesses, apart from the 10 and each other,
  // and a diamond where the first 10 are dots (on the map and in the legend), so that no two labels look alike.
  const labelColour = label => label < 0 ? '#444' : label < COLOURS.length ? COLOURS[label]
    : `hsl(${((90 + 137.508 * (label - COLOURS.length)) % 360).toFixed(1)}, 70%, ${[32, 50, 68][(label - COLOURS.length) % 3]}%)`;
  const diamond = label => label >= COLOURS.length;
  const LIVE_MS = 120;  // decode while dragging when one decode takes less than this

  // ---------------------------------------------------------------- data

  function base64Bytes(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  async function unpackBytes(value) {
    const stream = new Blob([base64Bytes(value.data)]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  function halfToFloat(bits) {
    const sign = bits & 0x8000 ? -1 : 1, exponent = (bits >> 10) & 0x1f, fraction = bits & 0x3ff;
    if (exponent === 0) return sign * fraction * 2 ** -24;
    if (exponent === 31) return fraction ? NaN : sign * Infinity;
    return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }

  async function unpackArray(value) {
    const bytes = await unpackBytes(value);
    if (value.dtype === 'float32') return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    return Float32Array.from(halves, halfToFloat);
  }

  const rows = (flat, count) => Array.from({length: count}, (_, i) => flat.subarray(i * flat.length / count, (i + 1) * flat.length / count));

  // ---------------------------------------------------------------- the folder's scripts

  // Each data script of index.html and the key it sets in AEA: one that did not load leaves its key unset.
  const KEYS = {'runtime/ort-glue.js': 'ort-glue', 'runtime/ort-wasm.js': 'ort-wasm', 'data/decoder.js': 'decoder',
    'data/latents.js': 'latents', 'data/statistics.js': 'statistics', 'data/audio.js': 'audio', 'data/pieces.js': 'pieces',
    'data/selftest.js': 'selftest'};
  const DECODER_NEEDS = ['runtime/ort.wasm.min.js', 'runtime/ort-glue.js', 'runtime/ort-wasm.js', 'data/decoder.js', 'data/latents.js', 'data/statistics.js'];
  const loaded = file => (file === 'runtime/ort.wasm.min.js' ? typeof ort !== 'undefined' : AEA[KEYS[file]] !== undefined);
  const incomplete = files => `${files.join(', ')} did not load: the folder is incomplete; write it again with aea explore.`;
  const messageOf = error => (error && error.message ? error.message : String(error));
  // what a browser that refuses WebAssembly (or its module) from a file says; any other failure is shown as it is
  const REFUSED = /refused|not allowed|denied|SecurityError|dynamically imported module|Failed to fetch|NetworkError/i;

  function startFailure(error) {  // the status line for a decoder that did not start
    if (typeof WebAssembly === 'undefined') return 'This browser does not run WebAssembly (switched off in its settings?), which the decoder needs.';
    if (location.protocol === 'file:' && REFUSED.test(messageOf(error))) {
      return 'This browser refuses to run WebAssembly from a file: serve the folder (python -m http.server -d FOLDER) and open http://localhost:8000/.';
    }
    return `The decoder could not start: ${messageOf(error)}`;
  }

  // ---------------------------------------------------------------- the decoder

  async function startRuntime() {
    ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which neither file:// nor a plain server gives
    ort.env.wasm.wasmBinary = (await unpackBytes(AEA['ort-wasm'])).buffer;
    ort.env.wasm.wasmPaths = {mjs: URL.createObjectURL(new Blob([AEA['ort-glue']], {type: 'text/javascript'}))};
    const model = await unpackBytes(AEA.decoder);
    return ort.InferenceSession.create(model, {executionProviders: ['wasm']});
  }

  const state = {
    ready: false, error: null, session: null, size: site ? site.latent.size : 0,
    latents: [], mean: null, directions: [], directionStd: [], gaussianMean: null, gaussianStd: null,
    selected: [], clip: null, base: null, source: null, offsets: [], current: null, noise: null,
    audio: null, decodes: 0, lastDecodeMs: null, lastReleaseToSoundMs: null, decodeTimes: [], pieceSpectrograms: 0,
  };

  async function decode(latent) {
    const input = site.decoder.input.name, output = site.decoder.output.name;
    const started = performance.now();
    const result = await state.session.run({[input]: new ort.Tensor('float32', Float32Array.from(latent), [1, latent.length])});
    state.lastDecodeMs = performance.now() - started;
    state.decodeTimes.push(state.lastDecodeMs);
    state.decodes += 1;
    return result[output].data;
  }

  // ---------------------------------------------------------------- sound, files and pictures

  function wavBlob(samples, rate) {
    const buffer = new ArrayBuffer(44 + samples.length * 2), view = new DataView(buffer);
    const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
    text(0, 'RIFF'); view.setUint32(4, 36 + samples.length * 2, true); text(8, 'WAVEfmt ');
    view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, 'data'); view.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) view.setInt16(44 + 2 * i, Math.round(Math.max(-1, Math.min(1, samples[i])) * 32767), true);
    return new Blob([buffer], {type: 'audio/wav'});
  }

  function npyBlob(latent) {
    // NumPy format 1.0: magic, header length, a dict padded so the data start on a multiple of 64 bytes.
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${latent.length},), }`;
    header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    const head = new Uint8Array(10 + header.length);
    head.set([0x93, 78, 85, 77, 80, 89, 1, 0, header.length & 0xff, header.length >> 8]);
    for (let i = 0; i < header.length; i++) head[10 + i] = header.charCodeAt(i);
    return new Blob([head, Float32Array.from(latent).buffer], {type: 'application/octet-stream'});
  }

  function fft(re, im) {  // in place, radix 2; length a power of two
    const n = re.length;
    for (let i = 1, j = 0; i < n; i++) {
      let bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
    }
    for (let size = 2; size <= n; size <<= 1) {
      const step = -2 * Math.PI / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < size / 2; k++) {
          const c = Math.cos(step * k), s = Math.sin(step * k), a = start + k, b = a + size / 2;
          const tr = re[b] * c - im[b] * s, ti = re[b] * s + im[b] * c;
          re[b] = re[a] - tr; im[b] = im[a] - ti; re[a] += tr; im[a] += ti;
        }
      }
    }
  }

  function drawSpectrogram(canvas, samples) {
    // |STFT|^2 in dB (Hann window of 512, hop 256), low frequencies at the bottom, on one fixed scale for every
    // canvas (so a quiet decode draws darker than its original): 0 dB = a full-scale sine (|X| = 512 / 4), floor -80 dB.
    const size = 512, hop = 256, bins = size / 2, frames = Math.max(1, Math.floor((samples.length - size) / hop) + 1);
    const fullScale = 20 * Math.log10(size / 4);
    const window_ = Float32Array.from({length: size}, (_, i) => 0.5 - 0.5 * Math.cos(2 * Math.PI * i / size));
    const power = new Float32Array(frames * bins);
    for (let f = 0; f < frames; f++) {
      const re = new Float32Array(size), im = new Float32Array(size);
      for (let i = 0; i < size; i++) re[i] = (samples[f * hop + i] || 0) * window_[i];
      fft(re, im);
      for (let b = 0; b < bins; b++) {
        const db = 10 * Math.log10(re[b] * re[b] + im[b] * im[b] + 1e-12);
        power[f * bins + b] = db;
      }
    }
    const sheet = document.createElement('canvas');
    sheet.width = frames; sheet.height = bins;
    const image = sheet.getContext('2d').createImageData(frames, bins);
    for (let f = 0; f < frames; f++) {
      for (let b = 0; b < bins; b++) {
        const level = Math.max(0, Math.min(1, (power[f * bins + b] - fullScale + 80) / 80));
        const at = ((bins - 1 - b) * frames + f) * 4;
        image.data[at] = 255 * Math.min(1, level * 1.6); image.data[at + 1] = 255 * Math.max(0, level * 1.4 - 0.35);
        image.data[at + 2] = 255 * (level < 0.5 ? level * 1.2 : Math.max(0, 1.2 - level * 1.4)); image.data[at + 3] = 255;
      }
    }
    sheet.getContext('2d').putImageData(image, 0, 0);
    const context = canvas.getContext('2d');  // the canvas keeps its size: the spectrogram is stretched onto it
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(sheet, 0, 0, canvas.width, canvas.height);
  }

  // ---------------------------------------------------------------- what plays

  function labelName(clip) { return clip.label >= 0 ? site.label_names[clip.label] : '(no label)'; }

  function composed() {
    const z = Float32Array.from(state.base);
    state.offsets.forEach((amount, k) => {
      if (amount === 0) return;
      const direction = state.directions[k], scale = amount * state.directionStd[k];
      for (let i = 0; i < z.length; i++) z[i] += scale * direction[i];
    });
    return z;
  }

  function describe() {
    const moved = state.offsets.map((v, k) => v ? `${v > 0 ? '+' : ''}${v.toFixed(1)}σ along direction ${k + 1}` : '').filter(Boolean);
    return state.source.text + (moved.length ? ', ' + moved.join(', ') : '');
  }

  let inFlight = false, pending = null;

  async function render(options = {}) {
    // Decode the current latent and hand it to the player; while one decode runs, only the latest request waits.
    state.current = composed();
    const request = {latent: state.current, text: describe(), started: options.started ?? performance.now(), play: options.play};
    if (inFlight) { pending = request; return; }
    inFlight = true;
    try {
      let next = request;
      while (next) {
        pending = null;
        await show(next);
        next = pending;
      }
    } finally { inFlight = false; }
  }

  async function show(request) {
    const samples = await decode(request.latent);
    state.audio = samples;
    const player = $('decoded-audio'), old = player.src;
    player.src = URL.createObjectURL(wavBlob(samples, site.sample_rate));
    if (old.startsWith('blob:')) URL.revokeObjectURL(old);
    const latentUrl = URL.createObjectURL(npyBlob(request.latent)), wav = $('download-wav'), npy = $('download-npy');
    [wav, npy].forEach(link => { if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href); link.setAttribute('aria-disabled', 'false'); });
    wav.href = player.src; npy.href = latentUrl;
    $('now').textContent = 'Now: ' + request.text;
    drawSpectrogram($('decoded-spectrogram'), samples);
    if (request.play && $('autoplay').checked) {
      player.addEventListener('playing', () => {
        state.lastReleaseToSoundMs = performance.now() - request.started;
        $('timing').textContent = `Decoded in ${state.lastDecodeMs.toFixed(0)} ms; ${state.lastReleaseToSoundMs.toFixed(0)} ms from your action to sound.`;
      }, {once: true});
      player.play().catch(() => {});
    } else {
      $('timing').textContent = `Decoded in ${state.lastDecodeMs.toFixed(0)} ms.`;
    }
  }

  async function showOriginal(index) {
    const caption = $('original-caption'), player = $('original-audio'), canvas = $('original-spectrogram');
    if (player.src.startsWith('blob:')) URL.revokeObjectURL(player.src);
    if (index === null) {
      caption.textContent = 'Original: none (this latent is not a clip)';
      player.removeAttribute('src'); player.load();
      canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
      return;
    }
    if (!loaded('data/audio.js')) { caption.textContent = `Original: ${incomplete(['data/audio.js'])}`; return; }
    const bytes = await unpackBytes(AEA.audio[index]);
    caption.textContent = `Original: ${site.clips[index].name} (Ogg Vorbis)`;
    player.src = URL.createObjectURL(new Blob([bytes], {type: 'audio/ogg'}));
    const context = new OfflineAudioContext(1, site.clip_samples, site.sample_rate);
    const decoded = await context.decodeAudioData(bytes.slice().buffer);
    drawSpectrogram(canvas, decoded.getChannelData(0));
  }

  function setSource(base, source, original, play) {
    state.base = Float32Array.from(base);
    state.source = source;
    state.noise = source.noise || null;
    resetSliders(false);
    showOriginal(original).catch(error => console.warn('original', error));
    return render({play});
  }

  // ---------------------------------------------------------------- actions (the buttons and the test hook)

  function selectClip(index, play = true) {
    state.clip = index;
    const clip = site.clips[index];
    drawMap();
    return setSource(state.latents[index], {kind: 'clip', clip: index, text: `clip ${clip.name} (${labelName(clip)}, ${clip.split} split), decoded`}, index, play);
  }

  function average(indices, play = true) {
    if (indices.length < 2) { status('Select at least two clips to average (Ctrl-click or Shift-click in the list).'); return Promise.resolve(); }
    const mean = new Float32Array(state.size);
    indices.forEach(i => state.latents[i].forEach((v, j) => { mean[j] += v / indices.length; }));
    return setSource(mean, {kind: 'average', clips: indices.slice(), text: `the average latent of ${counted(indices.length, 'clip')}`}, null, play);
  }

  function morph(a, b, t, play = true) {
    const za = state.latents[a], zb = state.latents[b];
    const z = Float32Array.from(za, (v, j) => (1 - t) * v + t * zb[j]);
    return setSource(z, {kind: 'morph', a, b, t, text: `${(100 * (1 - t)).toFixed(0)} % ${site.clips[a].name} + ${(100 * t).toFixed(0)} % ${site.clips[b].name}`}, null, play);
  }

  function mulberry32(seed) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function normalNoise(seed) {  // Box-Muller on a seeded generator: the same seed gives the same vector
    const next = mulberry32(seed), noise = new Float32Array(state.size);
    for (let i = 0; i < noise.length; i += 2) {
      const radius = Math.sqrt(-2 * Math.log(1 - next())), angle = 2 * Math.PI * next();
      noise[i] = radius * Math.cos(angle);
      if (i + 1 < noise.length) noise[i + 1] = radius * Math.sin(angle);
    }
    return noise;
  }

  function random(kind, temperature, seed, play = true) {
    const noise = normalNoise(seed);
    if (kind === 'naive') {
      const what = site.variational
        ? 'the naive control, and the prior this VAE\'s KL term pulls its latents toward (weakly: see the fitted Gaussian)'
        : 'the naive control (random numbers the decoder never saw)';
      return setSource(noise, {kind, seed, temperature: 1, noise, text: `N(0, 1), seed ${seed}: ${what}`}, null, play);
    }
    const z = Float32Array.from(noise, (e, j) => state.gaussianMean[j] + temperature * state.gaussianStd[j] * e);
    return setSource(z, {kind: 'gaussian', seed, temperature, noise, text: `the fitted Gaussian at temperature ${temperature.toFixed(2)}, seed ${seed}: mean + T·std·N(0, 1)`}, null, play);
  }

  function setOffset(k, value, options = {}) {
    state.offsets[k] = value;
    const input = $(`direction-${k}`);
    if (input && Number(input.value) !== value) input.value = value;
    if (input) $(`direction-${k}-value`).textContent = `${value >= 0 ? '+' : ''}${value.toFixed(1)}σ`;
    return render(options);
  }

  function resetSliders(draw = true) {
    state.offsets = state.offsets.map(() => 0);
    state.offsets.forEach((_, k) => { $(`direction-${k}`).value = 0; $(`direction-${k}-value`).textContent = '+0.0σ'; });
    return draw ? render({play: true}) : Promise.resolve();
  }

  function status(text, error = false) { const line = $('status'); line.textContent = text; line.classList.toggle('error', error); }

  // ---------------------------------------------------------------- the songs: list and map

  let mapPoints = [];

  function drawMap() {
    const canvas = $('map'), context = canvas.getContext('2d'), pad = 18;
    const xs = site.clips.map(c => c.pca[0]), ys = site.clips.map(c => c.pca[1]);
    // The frame spans the 5th to 95th percentile (and a margin), so a few outliers do not crowd the rest into a
    // corner; a clip beyond it sits on the edge as a ring.
    const span = values => {
      const sorted = [...values].sort((p, q) => p - q), at = q => sorted[Math.round(q * (sorted.length - 1))];
      const low = at(0.05), high = at(0.95), margin = 0.15 * (high - low || 1);
      return [low - margin, high + margin];
    };
    const [[x0, x1], [y0, y1]] = [span(xs), span(ys)];
    const inside = v => Math.max(0, Math.min(1, v));
    const sx = v => pad + (canvas.width - 2 * pad) * (x1 > x0 ? inside((v - x0) / (x1 - x0)) : 0.5);
    const sy = v => canvas.height - pad - (canvas.height - 2 * pad) * (y1 > y0 ? inside((v - y0) / (y1 - y0)) : 0.5);
    const beyond = clip => clip.pca[0] < x0 || clip.pca[0] > x1 || clip.pca[1] < y0 || clip.pca[1] > y1;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = '#5b6672'; context.font = '11px system-ui, sans-serif';
    context.fillText('PC 1 →', canvas.width - 52, canvas.height - 4); context.fillText('↑ PC 2', 4, 12);
    mapPoints = site.clips.map((clip, i) => ({x: sx(clip.pca[0]), y: sy(clip.pca[1]), i}));
    mapPoints.forEach(({x, y, i}) => {
      const clip = site.clips[i];
      context.beginPath();
      if (diamond(clip.label)) { context.moveTo(x, y - 6); context.lineTo(x + 6, y); context.lineTo(x, y + 6); context.lineTo(x - 6, y); context.closePath(); }
      else context.arc(x, y, 5, 0, 2 * Math.PI);
      const colour = labelColour(clip.label);
      if (beyond(clip)) { context.lineWidth = 2; context.strokeStyle = colour; context.stroke(); }
      else { context.globalAlpha = 0.8; context.fillStyle = colour; context.fill(); context.globalAlpha = 1; }
      if (state.selected.includes(i) || state.clip === i) {
        context.lineWidth = state.clip === i ? 3 : 2; context.strokeStyle = '#111'; context.stroke();
      }
    });
  }

  function syncList() {
    const list = $('song-list');
    [...list.options].forEach(option => { option.selected = state.selected.includes(Number(option.value)); });
  }

  function buildControls() {
    const list = $('song-list'), a = $('morph-a'), b = $('morph-b');
    site.clips.forEach((clip, i) => {
      const text = `${clip.name} (${labelName(clip)}, ${clip.split})`;
      list.add(new Option(text, i)); a.add(new Option(clip.name, i)); b.add(new Option(clip.name, i));
    });
    b.value = String(Math.min(1, site.clips.length - 1));
    const legend = $('legend');
    site.label_names.forEach((name, i) => {
      const item = document.createElement('li'), dot = document.createElement('span');
      dot.style.background = labelColour(i); dot.setAttribute('aria-hidden', 'true');
      if (diamond(i)) dot.className = 'diamond';
      item.append(dot, name); legend.append(item);
    });
    const sliders = $('sliders');
    state.offsets = state.directions.map(() => 0);
    state.directions.forEach((_, k) => {
      const row = document.createElement('div'); row.className = 'slider';
      row.innerHTML = `<label for="direction-${k}">Direction ${k + 1} (std ${state.directionStd[k].toPrecision(3)})</label>` +
        `<input type="range" id="direction-${k}" min="-3" max="3" step="0.1" value="0" aria-describedby="directions-title">` +
        `<output for="direction-${k}" id="direction-${k}-value">+0.0σ</output>`;
      sliders.append(row);
      const input = row.querySelector('input');
      input.addEventListener('input', () => {
        const live = state.lastDecodeMs !== null && state.lastDecodeMs < LIVE_MS;
        if (live) setOffset(k, Number(input.value), {play: false});
        else $(`direction-${k}-value`).textContent = `${Number(input.value) >= 0 ? '+' : ''}${Number(input.value).toFixed(1)}σ`;
      });
      input.addEventListener('change', () => setOffset(k, Number(input.value), {play: true, started: performance.now()}));
    });
  }

  function wire() {
    const list = $('song-list');
    list.addEventListener('change', () => {
      state.selected = [...list.selectedOptions].map(o => Number(o.value));
      if (state.selected.length === 1) selectClip(state.selected[0]);
      else drawMap();
      if (state.selected.length >= 2) { $('morph-a').value = state.selected[0]; $('morph-b').value = state.selected[1]; }
    });
    $('play-selected').addEventListener('click', () => state.selected.length && selectClip(state.selected[state.selected.length - 1]));
    $('map').addEventListener('click', event => {
      const canvas = $('map'), box = canvas.getBoundingClientRect();
      const x = (event.clientX - box.left) * canvas.width / box.width, y = (event.clientY - box.top) * canvas.height / box.height;
      const nearest = mapPoints.reduce((best, p) => (Math.hypot(p.x - x, p.y - y) < Math.hypot(best.x - x, best.y - y) ? p : best), mapPoints[0]);
      if (Math.hypot(nearest.x - x, nearest.y - y) > 12) return;
      if (event.shiftKey || event.ctrlKey || event.metaKey) {
        state.selected = state.selected.includes(nearest.i) ? state.selected.filter(i => i !== nearest.i) : [...state.selected, nearest.i];
        syncList(); drawMap();
      } else {
        state.selected = [nearest.i]; syncList(); selectClip(nearest.i);
      }
    });
    $('reset-sliders').addEventListener('click', () => resetSliders(true));
    $('average').addEventListener('click', () => average(state.selected));
    const morphNow = () => {
      const t = Number($('morph').value); $('morph-value').textContent = t.toFixed(2);
      return morph(Number($('morph-a').value), Number($('morph-b').value), t);
    };
    $('morph').addEventListener('input', () => { $('morph-value').textContent = Number($('morph').value).toFixed(2); });
    $('morph').addEventListener('change', morphNow);
    $('temperature').addEventListener('input', () => { $('temperature-value').textContent = Number($('temperature').value).toFixed(2); });
    const draw = kind => {
      const seedInput = $('seed'), seed = Math.max(0, Math.floor(Number(seedInput.value) || 0));
      random(kind, Number($('temperature').value), seed);
      seedInput.value = seed + 1;  // the next draw is a new vector; the description keeps the seed used
    };
    $('random-gaussian').addEventListener('click', () => draw('gaussian'));
    $('random-naive').addEventListener('click', () => draw('naive'));
  }

  // ---------------------------------------------------------------- pieces made by the prior (not decoded here)

  async function buildPieces() {
    const prior = site.prior || {pieces: [], missing: 'This page was written without pieces from a prior.'};
    const note = $('prior-note'), holder = $('prior-pieces');
    if (!prior.pieces.length) { note.textContent = prior.missing; return; }
    if (!loaded('data/pieces.js')) { note.textContent = incomplete(['data/pieces.js']); note.classList.add('problem'); return; }
    note.textContent = `${counted(prior.pieces.length, 'piece')} made by the run's prior when this page was written, not decoded ` +
      'in your browser: the prior walks over its memory of the training music\'s latents and the model decodes the ' +
      `walk (what ${prior.command} writes). Ogg Vorbis; each shows its spectrogram when it plays.`;
    for (const [n, piece] of prior.pieces.entries()) {
      const bytes = await unpackBytes(AEA.pieces[n]);
      const figure = document.createElement('figure'), caption = document.createElement('figcaption');
      caption.id = `piece-${n}-caption`;
      const style = piece.label ? `in the style of ${piece.label}` : (piece.style || '');
      caption.innerHTML = `Prior piece ${n + 1} <span class="made-by"></span>`;
      caption.querySelector('span').textContent = `(made by the prior: ${piece.seconds.toFixed(1)} s, seed ${piece.seed}${style ? ', ' + style : ''})`;
      const player = document.createElement('audio');
      player.id = `piece-${n}-audio`; player.controls = true; player.preload = 'auto';
      player.setAttribute('aria-labelledby', caption.id);
      player.src = URL.createObjectURL(new Blob([bytes], {type: 'audio/ogg'}));
      const canvas = document.createElement('canvas');
      canvas.id = `piece-${n}-spectrogram`; canvas.width = 430; canvas.height = 160; canvas.hidden = true;
      canvas.setAttribute('role', 'img'); canvas.setAttribute('aria-label', `Spectrogram of prior piece ${n + 1}`);
      const problem = document.createElement('p');
      problem.id = `piece-${n}-problem`; problem.className = 'hint problem'; problem.hidden = true;
      player.addEventListener('play', async () => {
        if (!canvas.hidden || !problem.hidden) return;
        try {
          const context = new OfflineAudioContext(1, Math.max(1, Math.round(piece.seconds * site.sample_rate)), site.sample_rate);
          drawSpectrogram(canvas, (await context.decodeAudioData(bytes.slice().buffer)).getChannelData(0));
          canvas.hidden = false;
          state.pieceSpectrograms += 1;
        } catch (error) {
          problem.textContent = `This browser could not decode prior piece ${n + 1}: ${messageOf(error)}.`;
          problem.hidden = false;
        }
      });
      figure.append(caption, player, canvas, problem);
      holder.append(figure);
    }
  }

  // ---------------------------------------------------------------- start, and the self-test

  async function selftest() {
    const line = $('selftest');
    line.hidden = false;
    try {
      if (!loaded('data/selftest.js')) throw new Error(incomplete(['data/selftest.js']));
      const expected = rows(await unpackArray(AEA.selftest.audio), AEA.selftest.clips.length);
      let worst = 0;
      for (const [n, clip] of AEA.selftest.clips.entries()) {
        const got = await decode(state.latents[clip]), want = expected[n];
        if (got.length !== want.length) throw new Error(`clip ${clip}: ${got.length} samples, torch gave ${want.length}`);
        let difference = 0, scale = 0;
        for (let i = 0; i < want.length; i++) { difference = Math.max(difference, Math.abs(got[i] - want[i])); scale = Math.max(scale, Math.abs(want[i])); }
        worst = Math.max(worst, scale > 0 ? difference / scale : difference);
      }
      const times = [];
      for (let k = 0; k < 5; k++) { await decode(state.latents[0]); times.push(state.lastDecodeMs); }
      times.sort((p, q) => p - q);
      const tolerance = site.selftest.tolerance;
      line.textContent = worst <= tolerance
        ? `selftest: ok ${worst.toExponential(2)} ${times[2].toFixed(1)}`
        : `selftest: FAIL relative error ${worst.toExponential(2)} above ${tolerance}`;
    } catch (error) {
      line.textContent = `selftest: FAIL ${messageOf(error)}`;
    }
  }

  async function loadData() {  // the clips' latents and the dataset's statistics, unpacked
    const statistics = AEA.statistics;
    state.latents = rows(await unpackArray(AEA.latents), site.clips.length);
    state.mean = await unpackArray(statistics.mean);
    state.directions = rows(await unpackArray(statistics.directions), statistics.direction_std.length);
    state.directionStd = statistics.direction_std;
    state.gaussianMean = await unpackArray(statistics.gaussian_mean);
    state.gaussianStd = await unpackArray(statistics.gaussian_std);
    $('model-line').textContent = `Model ${site.model_fingerprint}: ${site.model.description}; latent of ${site.latent.size} values; ` +
      `${counted(site.clips.length, 'clip')} at ${site.sample_rate} Hz. The decoder runs here, in your browser (${site.runtime}, WebAssembly): nothing is sent anywhere.`;
    $('gaussian-note').textContent = `Fitted Gaussian: each latent value drawn as mean + T·std·N(0, 1), from ${statistics.gaussian}. ` +
      'N(0, 1) ignores the dataset: the naive control the original assignment tried, which decodes to noise' +
      (site.variational ? ' (for this VAE also the prior its KL term pulls toward, weakly at aea\'s small KL weight).' : '.');
  }

  function failed(error, shown, testing) {  // the page cannot decode: one line saying why, and the self-test's FAIL
    state.error = messageOf(error);
    status(shown, true);
    if (testing) { $('selftest').hidden = false; $('selftest').textContent = `selftest: FAIL ${shown}`; }
    console.warn('aea explore: the page did not start', error);
  }

  async function start() {
    const testing = new URLSearchParams(location.search).has('selftest');
    if (!site) { status('This page has no data: data/site.js did not load; write the folder again with aea explore.', true); return; }
    // the pieces need no decoder: they play even where the runtime does not start
    const pieces = buildPieces().catch(error => { $('prior-note').textContent = `The prior's pieces could not be shown: ${messageOf(error)}`; });
    const missing = DECODER_NEEDS.filter(file => !loaded(file));
    if (missing.length) { failed(new Error(incomplete(missing)), incomplete(missing), testing); return; }
    try {
      state.session = await startRuntime();
    } catch (error) {
      failed(error, startFailure(error), testing);
      return;
    }
    try {
      await loadData();
      buildControls();
      wire();
      drawMap();
      await pieces;
      if (testing) await selftest();
      state.selected = [0]; syncList();
      await selectClip(0, false);
    } catch (error) {
      failed(error, `The page could not start: ${messageOf(error)}`, testing);
      return;
    }
    state.ready = true;
    status(`Ready: decoding takes about ${state.lastDecodeMs.toFixed(0)} ms per clip here.`);
  }

  window.aeaExplore = {state, site, drawSpectrogram, selectClip, average, morph, random, setOffset, resetSliders, composed, started: start()};
})();
