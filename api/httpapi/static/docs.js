// The interactive documentation of the Concord HTTP API. It loads the
// OpenAPI document, lists every operation (method, path, summary,
// parameters) and gives each a form that sends the request and shows the
// response. It uses nothing but the browser: no library, no network
// access beyond this node.
"use strict";

// el creates an element with attributes and children.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

// resolve follows a local $ref ("#/components/...") in the document.
function resolve(doc, obj) {
  if (!obj || !obj.$ref) return obj;
  return obj.$ref.slice(2).split("/").reduce((o, k) => o[k], doc);
}

// example builds a skeleton JSON body for a request schema.
function example(doc, schema) {
  schema = resolve(doc, schema);
  if (!schema || schema.type !== "object" || !schema.properties) return {};
  const out = {};
  for (const name of schema.required || Object.keys(schema.properties).slice(0, 1)) {
    const p = resolve(doc, schema.properties[name]);
    out[name] = p.type === "array" ? [] : p.type === "integer" ? 0 : p.type === "boolean" ? false : "";
  }
  return out;
}

// send performs one operation with the values of its form.
async function send(path, method, params, bodyArea, out) {
  let url = path;
  const query = new URLSearchParams();
  for (const [p, input] of params) {
    if (input.value === "") continue;
    if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(input.value));
    else query.set(p.name, input.value);
  }
  if (query.toString() !== "") url += "?" + query.toString();
  const init = { method: method.toUpperCase(), headers: {} };
  if (bodyArea && bodyArea.value.trim() !== "") {
    init.body = bodyArea.value;
    init.headers["Content-Type"] = "application/json";
  }
  out.textContent = init.method + " " + url + "\n…";
  try {
    const resp = await fetch(url, init);
    let text = await resp.text();
    try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: show as is */ }
    out.textContent = init.method + " " + url + "\n" + resp.status + " " + resp.statusText + "\n\n" + text;
  } catch (e) {
    out.textContent = init.method + " " + url + "\nrequest failed: " + e;
  }
}

// operation renders one operation with its try-it form.
function operation(doc, path, method, pathItem, op) {
  const params = [...(pathItem.parameters || []), ...(op.parameters || [])].map(p => resolve(doc, p));
  const inputs = [];
  const form = el("form", {});
  for (const p of params) {
    const input = el("input", { type: "text", name: p.name, placeholder: p.schema && p.schema.enum ? p.schema.enum.join(" | ") : (p.schema ? p.schema.type : "") });
    inputs.push([p, input]);
    form.append(el("label", { title: p.description || "" }, p.name + " (" + p.in + (p.required ? ", required" : "") + ") ", input));
  }
  let bodyArea = null;
  if (op.requestBody) {
    const media = op.requestBody.content["application/json"];
    bodyArea = el("textarea", { name: "body" });
    bodyArea.value = JSON.stringify(example(doc, media && media.schema), null, 1);
    form.append(el("label", {}, "request body (JSON)"), bodyArea);
  }
  const out = el("pre", { class: "response" });
  form.append(el("button", { type: "submit" }, "Send"));
  form.addEventListener("submit", ev => { ev.preventDefault(); send(path, method, inputs, bodyArea, out); });
  const summary = el("summary", {},
    el("span", { class: "method " + method }, method.toUpperCase()), " ",
    el("span", { class: "path" }, path), " \u2014 ", op.summary || "");
  const paramList = el("ul", { class: "params" },
    ...params.map(p => el("li", {}, el("code", {}, p.name), " (" + p.in + "): " + (p.description || ""))));
  return el("details", { class: "op", id: "op-" + op.operationId, "data-op": method.toUpperCase() + " " + path },
    summary, el("div", { class: "body" }, el("p", {}, op.description || ""), paramList, form, out));
}

// render lists every operation of the document.
function render(doc) {
  const main = document.getElementById("operations");
  document.getElementById("intro").textContent = doc.info.description;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "put", "post", "delete"]) {
      if (item[method]) main.append(operation(doc, path, method, item, item[method]));
    }
  }
}

fetch("/api/v1/openapi.json")
  .then(r => r.json())
  .then(render)
  .catch(e => { document.getElementById("intro").textContent = "Could not load the OpenAPI document: " + e; });
