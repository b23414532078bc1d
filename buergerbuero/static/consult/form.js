// A form of the office filled in together in the consultation: the same accessible HTML form
// for the citizen, the staff member and the interpreter, kept in step over the consultation's
// socket (the rules: buergerbuero/consult/filling.py).
//
// Sync, as the server decides it: every field has a version; events may arrive out of order,
// so the page shows the value of the highest version it has seen, except in a field where its
// own edits are not yet echoed (the person is typing there: nothing overwrites it). When the
// echo of its last edit arrives (however late), the page shows the highest version again. After
// a reconnection the page sends again what it had typed and not seen echoed.

const CLIENT = Math.random().toString(36).slice(2, 12);

function displayValue(field, value) {
  if (field.kind === "checkbox") return value ? gettext("Yes") : gettext("No");
  if (field.kind === "date" && value) {
    const [year, month, day] = String(value).split("-");
    return `${day}.${month}.${year}`;
  }
  return value === "" || value === null || value === undefined ? "—" : String(value);
}

export class SharedForm {
  constructor(root, { role, send, token }) {
    this.box = root.querySelector("[data-shared-form]");
    this.picker = root.querySelector("[data-form-picker]");
    this.role = role;
    this.send = send;
    this.token = token;
    this.form = null; // the state: { id, fields, values: name -> {value, version, by, confirmed}, status, ... }
    this.pending = new Map(); // field -> the number of our last edit not yet echoed
    this.seq = 0;
    this.client = CLIENT; // names this page's edits (their echo comes back with it)
    this.reviewed = {}; // field -> version, as the summary showed them
    this.focusOf = new Map(); // connection -> { role, field }
    this.names = {
      agent: interpolate(gettext("%s (staff)"), [this.box.dataset.nameAgent]),
      citizen: this.box.dataset.nameCitizen,
      interpreter: gettext("The interpreter"),
    };
    this.fieldsBox = this.box.querySelector("[data-sf-fields]");
    this.wire();
  }

  // --- what the server says ------------------------------------------------------------------
  setForms(forms) {
    if (!this.picker) return;
    const select = this.picker.querySelector("[data-form-picker-select]");
    select.replaceChildren(...forms.map((item) => new Option(item.title, item.id)));
    this.picker.hidden = forms.length === 0;
  }

  // A whole state: a new form, a status change, or the state after a (re)connection.
  load(state) {
    if (!state) return this.closed();
    const fresh = !this.form || this.form.id !== state.id;
    if (!fresh) {
      // A state may arrive after a newer edit of some field (out of order): keep the newer.
      for (const [name, mine] of Object.entries(this.form.values)) {
        if (state.values[name] && mine.version > state.values[name].version) state.values[name] = mine;
      }
    }
    this.form = state;
    if (fresh) {
      this.pending.clear();
      this.render();
    } else {
      // Edits of ours the server may not have seen (lost with a connection) go again.
      for (const name of [...this.pending.keys()]) {
        const local = this.readInput(name);
        const known = state.values[name];
        if (known && local !== known.value) this.pushEdit(name, local);
        else this.pending.delete(name);
      }
    }
    this.showStatus();
  }

  onValue(event) {
    if (!this.form || event.form !== this.form.id) return;
    // The echo of our last edit ends the wait however late it comes: events published by
    // different server threads may arrive out of order, so a newer version can overtake it.
    if (event.client === CLIENT && this.pending.get(event.field) === event.seq) this.pending.delete(event.field);
    const known = this.form.values[event.field];
    if (!known || event.version > known.version) { // else late: we have a newer one
      this.form.values[event.field] = { value: event.value, version: event.version, by: event.by, confirmed: event.confirmed };
      if (this.form.status !== event.status) {
        this.form.status = event.status;
        this.showStatus();
      }
    }
    this.show(event.field);
  }

  onRefused(event) {
    if (event.of === "form.edit" && event.client === CLIENT) {
      if (this.pending.get(event.field) === event.seq) this.pending.delete(event.field);
      const known = this.form?.values[event.field];
      if (event.value && known && event.value.version >= known.version) this.form.values[event.field] = event.value;
      this.show(event.field); // what holds, instead of the refused text
      const error = this.fieldsBox.querySelector(`[data-sf-field="${CSS.escape(event.field)}"] [data-sf-field-error]`);
      if (error) {
        error.textContent = event.message;
        return;
      }
    }
    this.box.querySelector("[data-sf-error]").textContent = event.message;
    if (event.code === "changed" && this.form) this.showSummary(); // the values as they are now
  }

  onFocus(event) {
    if (!this.form || event.form !== this.form.id || event.role === this.role) return;
    if (event.field) this.focusOf.set(event.connection, { role: event.role, field: event.field });
    else this.focusOf.delete(event.connection);
    this.showFocus();
  }

  // Someone's socket went: their marker goes with it.
  onPresence({ role, online }) {
    if (online) return;
    for (const [connection, focus] of this.focusOf) {
      if (focus.role === role) this.focusOf.delete(connection);
    }
    this.showFocus();
  }

  closed() {
    this.form = null;
    this.pending.clear();
    this.focusOf.clear();
    this.box.hidden = true;
    this.fieldsBox.querySelectorAll("[data-sf-field]").forEach((element) => element.remove());
  }

  // --- rendering ------------------------------------------------------------------------------
  mayWrite() {
    if (!this.form || this.form.status === "signed") return false;
    if (this.role === "interpreter") return this.form.interpreter_may_edit;
    return true;
  }

  render() {
    const form = this.form;
    this.box.hidden = false;
    this.box.querySelector("[data-sf-title]").textContent = form.title;
    this.box.querySelector("[data-sf-legend]").textContent = form.title;
    this.box.querySelector("[data-sf-description]").textContent = form.description || "";
    this.box.querySelector("[data-sf-error]").textContent = "";
    this.fieldsBox.querySelectorAll("[data-sf-field]").forEach((element) => element.remove());
    form.fields.forEach((field, index) => this.fieldsBox.append(this.fieldElement(field, index)));
    for (const name of Object.keys(form.values)) this.show(name);
  }

  fieldElement(field, index) {
    const id = `sf-${index}`;
    const wrapper = document.createElement("div");
    wrapper.className = `shared-form__field shared-form__field--${field.kind}`;
    wrapper.dataset.sfField = field.name;
    const help = document.createElement("p");
    help.className = "hint";
    help.id = `${id}-help`;
    help.textContent = field.help || "";
    help.hidden = !field.help;
    const suggested = document.createElement("p");
    suggested.className = "shared-form__suggested";
    suggested.id = `${id}-suggested`;
    suggested.dataset.sfSuggested = "";
    suggested.textContent = gettext("Suggested by staff — please check");
    suggested.hidden = true;
    const presence = document.createElement("p");
    presence.className = "shared-form__presence";
    presence.id = `${id}-presence`;
    presence.dataset.sfPresence = "";
    presence.setAttribute("aria-live", "polite");
    const error = document.createElement("p");
    error.className = "form-error";
    error.id = `${id}-error`;
    error.dataset.sfFieldError = "";
    error.setAttribute("role", "alert");
    // The "suggested" note joins the description only while it is shown (see show()): a
    // screen reader reads a described-by element even when it is hidden.
    const describedBy = [field.help ? help.id : "", presence.id, error.id].filter(Boolean).join(" ");
    const required = field.required ? ` (${gettext("required")})` : "";

    if (field.kind === "radio") {
      const set = document.createElement("fieldset");
      set.className = "shared-form__choices";
      set.setAttribute("aria-describedby", describedBy);
      const legend = document.createElement("legend");
      legend.textContent = field.label + required;
      set.append(legend);
      field.options.forEach((option, optionIndex) => {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = "radio";
        input.name = id;
        input.value = option;
        input.id = `${id}-${optionIndex}`;
        input.dataset.sfInput = field.name;
        label.append(input, " ", option);
        set.append(label);
      });
      wrapper.append(set, help, suggested, presence, error);
      return wrapper;
    }
    let input;
    if (field.kind === "textarea") {
      input = document.createElement("textarea");
      input.rows = 4;
    } else if (field.kind === "choice") {
      input = document.createElement("select");
      input.append(new Option("—", ""), ...field.options.map((option) => new Option(option, option)));
    } else {
      input = document.createElement("input");
      input.type = { checkbox: "checkbox", date: "date" }[field.kind] || "text";
    }
    input.id = id;
    input.dataset.sfInput = field.name;
    if (field.limit) input.maxLength = field.limit; // the server's limit (forms/fields.py)
    if (field.required) input.setAttribute("aria-required", "true");
    input.setAttribute("aria-describedby", describedBy);
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = field.label + required;
    if (field.kind === "checkbox") wrapper.append(input, " ", label, help, suggested, presence, error);
    else wrapper.append(label, input, help, suggested, presence, error);
    return wrapper;
  }

  inputsOf(name) {
    return [...this.fieldsBox.querySelectorAll("[data-sf-input]")].filter((input) => input.dataset.sfInput === name);
  }

  fieldOf(name) {
    return this.form?.fields.find((field) => field.name === name);
  }

  readInput(name) {
    const inputs = this.inputsOf(name);
    const field = this.fieldOf(name);
    if (!field || inputs.length === 0) return "";
    if (field.kind === "checkbox") return inputs[0].checked;
    if (field.kind === "radio") return inputs.find((input) => input.checked)?.value ?? "";
    return inputs[0].value;
  }

  // Shows the field's known value unless the person has edits of their own on the way.
  show(name) {
    const field = this.fieldOf(name);
    const known = this.form?.values[name];
    if (!field || !known) return;
    const wrapper = this.fieldsBox.querySelector(`[data-sf-field="${CSS.escape(name)}"]`);
    if (!wrapper) return;
    const suggested = known.by === "agent" && !known.confirmed;
    const note = wrapper.querySelector("[data-sf-suggested]");
    note.hidden = !suggested;
    wrapper.classList.toggle("shared-form__field--suggested", suggested);
    const described = field.kind === "radio" ? [wrapper.querySelector("fieldset")] : this.inputsOf(name);
    for (const element of described) {
      const ids = (element.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== note.id);
      if (suggested) ids.splice(1, 0, note.id);
      element.setAttribute("aria-describedby", ids.join(" "));
    }
    const readOnly = !this.mayWrite();
    for (const input of this.inputsOf(name)) input.disabled = readOnly;
    if (this.pending.has(name)) return;
    const inputs = this.inputsOf(name);
    if (field.kind === "checkbox") inputs[0].checked = Boolean(known.value);
    else if (field.kind === "radio") inputs.forEach((input) => { input.checked = input.value === known.value; });
    else if (inputs[0].value !== known.value) {
      const input = inputs[0];
      const focused = document.activeElement === input && "selectionStart" in input && input.type !== "date";
      const [start, end] = focused ? [input.selectionStart, input.selectionEnd] : [0, 0];
      input.value = known.value;
      if (focused) input.setSelectionRange(Math.min(start, input.value.length), Math.min(end, input.value.length));
    }
  }

  showFocus() {
    const here = new Map(); // field -> names
    for (const { role, field } of this.focusOf.values()) {
      if (!here.has(field)) here.set(field, new Set());
      here.get(field).add(this.names[role] || role);
    }
    for (const element of this.fieldsBox.querySelectorAll("[data-sf-field]")) {
      const names = here.get(element.dataset.sfField);
      const text = names ? interpolate(gettext("%s is typing here"), [[...names].join(", ")]) : "";
      const presence = element.querySelector("[data-sf-presence]");
      if (presence.textContent !== text) presence.textContent = text;
      element.classList.toggle("shared-form__field--busy", Boolean(names));
    }
  }

  showStatus() {
    const form = this.form;
    if (!form) return;
    const texts = {
      filling: gettext("Being filled in together. Values from the staff member are marked until you confirm them."),
      confirmed: gettext("Confirmed by the citizen. Waiting for the signature."),
      signed: interpolate(gettext("Signed by %s."), [form.signer]),
    };
    this.box.querySelector("[data-sf-status]").textContent = texts[form.status] || "";
    for (const name of Object.keys(form.values)) this.show(name);
    const review = this.box.querySelector("[data-sf-review-box]");
    if (review) review.hidden = form.status !== "filling";
    const summary = this.box.querySelector("[data-sf-summary]");
    if (summary && form.status !== "filling") summary.hidden = true;
    const sign = this.box.querySelector("[data-sf-sign]");
    if (sign) {
      const wasHidden = sign.hidden;
      sign.hidden = form.status !== "confirmed";
      if (wasHidden && !sign.hidden) sign.querySelector("h3").focus();
    }
    const download = this.box.querySelector("[data-sf-download-box]");
    download.hidden = form.status !== "signed" || this.role === "interpreter";
    if (form.status === "signed") {
      const url = this.box.dataset.pdfUrl.replace("/forms/0/", `/forms/${form.id}/`);
      this.box.querySelector("[data-sf-download]").href = this.token ? `${url}?ticket=${encodeURIComponent(this.token)}` : url;
    }
    const interpreter = this.box.querySelector("[data-sf-interpreter]");
    if (interpreter) interpreter.checked = form.interpreter_may_edit;
  }

  // The summary the citizen confirms; its versions go with the confirmation (a value changed
  // meanwhile is refused by the server, and the summary is shown again).
  showSummary() {
    this.reviewed = Object.fromEntries(Object.entries(this.form.values).map(([name, known]) => [name, known.version]));
    const list = this.box.querySelector("[data-sf-summary-list]");
    list.replaceChildren();
    for (const field of this.form.fields) {
      const term = document.createElement("dt");
      term.textContent = field.label;
      const value = document.createElement("dd");
      value.textContent = displayValue(field, this.form.values[field.name]?.value);
      list.append(term, value);
    }
    const summary = this.box.querySelector("[data-sf-summary]");
    summary.hidden = false;
    summary.querySelector("h3").focus();
  }

  // --- what the person does ---------------------------------------------------------------------
  pushEdit(name, value) {
    this.seq += 1;
    this.pending.set(name, this.seq);
    const base = this.form.values[name]?.version ?? 0;
    this.send({ type: "form.edit", form: this.form.id, field: name, value, base, client: CLIENT, seq: this.seq });
  }

  wire() {
    const fields = this.fieldsBox;
    const edited = (event) => {
      const name = event.target.dataset?.sfInput;
      if (!name || !this.form || !this.mayWrite()) return;
      const error = event.target.closest("[data-sf-field]").querySelector("[data-sf-field-error]");
      error.textContent = "";
      this.pushEdit(name, this.readInput(name));
    };
    fields.addEventListener("input", edited);
    // Checkboxes, radios, selects and dates report a change too; one edit is enough.
    fields.addEventListener("change", (event) => {
      const name = event.target.dataset?.sfInput;
      if (name && this.form && this.readInput(name) !== this.form.values[name]?.value && !this.pending.has(name)) edited(event);
    });
    let focused = "";
    fields.addEventListener("focusin", (event) => {
      const name = event.target.dataset?.sfInput;
      if (!name || !this.form || name === focused) return;
      focused = name;
      this.send({ type: "form.focus", form: this.form.id, field: name });
    });
    fields.addEventListener("focusout", (event) => {
      if (event.relatedTarget && fields.contains(event.relatedTarget)) return;
      focused = "";
      if (this.form) this.send({ type: "form.focus", form: this.form.id, field: "" });
    });
    this.box.querySelector("[data-sf-form]").addEventListener("submit", (event) => event.preventDefault());

    this.picker?.querySelector("[data-form-open]").addEventListener("click", () => {
      const template = Number(this.picker.querySelector("[data-form-picker-select]").value);
      if (template) this.send({ type: "form.open", template });
    });
    this.box.querySelector("[data-sf-close]")?.addEventListener("click", () => {
      if (this.form) this.send({ type: "form.close", form: this.form.id });
    });
    this.box.querySelector("[data-sf-interpreter]")?.addEventListener("change", (event) => {
      if (this.form) this.send({ type: "form.interpreter", form: this.form.id, allowed: event.target.checked });
    });
    this.box.querySelector("[data-sf-review]")?.addEventListener("click", () => this.showSummary());
    this.box.querySelector("[data-sf-back]")?.addEventListener("click", () => {
      this.box.querySelector("[data-sf-summary]").hidden = true;
      this.fieldsBox.querySelector("[data-sf-input]")?.focus();
    });
    this.box.querySelector("[data-sf-confirm]")?.addEventListener("click", () => {
      this.box.querySelector("[data-sf-error]").textContent = "";
      if (this.form) this.send({ type: "form.confirm", form: this.form.id, versions: this.reviewed });
    });
    const canvas = this.box.querySelector("[data-sf-canvas]");
    if (canvas) this.wireSignature(canvas);
  }

  wireSignature(canvas) {
    const context = canvas.getContext("2d");
    let drawing = false;
    let drawn = false;
    const point = (event) => {
      const rect = canvas.getBoundingClientRect();
      return [(event.clientX - rect.left) * (canvas.width / rect.width), (event.clientY - rect.top) * (canvas.height / rect.height)];
    };
    // Pointer events cover mouse, pen and touch (the canvas's touch-action: none keeps the page still).
    canvas.addEventListener("pointerdown", (event) => {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      context.lineWidth = 3;
      context.lineCap = "round";
      context.strokeStyle = "#000";
      context.beginPath();
      context.moveTo(...point(event));
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drawing) return;
      context.lineTo(...point(event));
      context.stroke();
      drawn = true;
    });
    const stop = () => { drawing = false; };
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    this.box.querySelector("[data-sf-clear]").addEventListener("click", () => {
      context.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
    });
    this.box.querySelector("[data-sf-sign-button]").addEventListener("click", () => {
      const name = this.box.querySelector("[data-sf-signer]").value.trim();
      const error = this.box.querySelector("[data-sf-error]");
      if (!name) {
        error.textContent = gettext("Please type your full name to sign.");
        this.box.querySelector("[data-sf-signer]").focus();
        return;
      }
      error.textContent = "";
      this.send({ type: "form.sign", form: this.form.id, name, drawn: drawn ? canvas.toDataURL("image/png") : "" });
    });
  }
}
