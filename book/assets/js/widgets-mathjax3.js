// Lets the Jupyter-widgets manager typeset widget labels with MathJax 3.
//
// @jupyter-widgets/html-manager 1.0 (ipywidgets 8) typesets every label and HTML widget with
// the MathJax 2 call MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]) whenever a global
// MathJax exists. The book loads MathJax 3, which has no Hub, so each such call threw
// "Cannot read properties of undefined (reading 'Queue')" and left TeX in labels raw.
// This script gives whatever object is window.MathJax (Sphinx's configuration object first,
// then MathJax 3 itself, which replaces it) a non-enumerable Hub whose Queue hands "Typeset"
// jobs to MathJax 3's typesetPromise once MathJax has started. Pages without MathJax keep
// window.MathJax undefined, and the manager then skips typesetting as before.
// Loaded before embed.js on pages with widgets (nb_ipywidgets_js in _config.yml).
(function () {
  "use strict";
  var current = window.MathJax;
  var RETRIES = 100; // 100 x 50 ms: MathJax 3 is loaded with defer, so it is normally ready.

  function typeset(element, triesLeft) {
    var mj = current;
    if (mj && typeof mj.typesetPromise === "function") {
      var started = (mj.startup && mj.startup.promise) || Promise.resolve();
      started
        .then(function () {
          return mj.typesetPromise(element ? [element] : undefined);
        })
        .catch(function (err) {
          console.warn("MathJax could not typeset a widget label:", err);
        });
    } else if (triesLeft > 0) {
      setTimeout(function () {
        typeset(element, triesLeft - 1);
      }, 50);
    }
  }

  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset") {
          typeset(job[2], RETRIES);
        }
      }
    },
  };

  function withHub(mj) {
    if (mj && typeof mj === "object" && !("Hub" in mj)) {
      Object.defineProperty(mj, "Hub", { value: hub, configurable: true, writable: true });
    }
    return mj;
  }

  current = withHub(current);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () {
      return current;
    },
    set: function (value) {
      current = withHub(value);
    },
  });
})();
