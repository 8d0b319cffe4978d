// The admin's navigation sidebar starts collapsed: on a laptop it would take a fifth of
// the width of every page. Runs before the admin's nav_sidebar.js (deferred), which reads
// this key; the toggle still opens it, and the choice is kept as the admin keeps it.
"use strict";
if (window.localStorage.getItem("django.admin.navSidebarIsOpen") === null) {
    window.localStorage.setItem("django.admin.navSidebarIsOpen", "false");
}
