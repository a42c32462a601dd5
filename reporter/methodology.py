"""How the figures are decided, in words: one text for every report format.

The code that applies these rules lives in ``derive`` (outcome of an attempt) and
``compliance`` (status of a server); keep this text in step with it.
"""

OUTCOME_RULE = (
    "Each patch attempt is judged by its result code: Succeeded is succeeded; Succeeded with "
    "errors, or success with a reboot still required, is a warning; Failed, Aborted and Not "
    "started are failed; In progress is in progress. An attempt without a result code is "
    "judged by its status: completed is succeeded (a warning if a reboot is required), failed "
    "is failed, pending or running is in progress. An attempt with neither a result code nor a "
    "known status cannot be shown to have failed or succeeded: it counts as a warning and its "
    "execution is listed under problems so that someone checks it."
)

COMPLIANCE_RULES = [
    "No data: no execution of the server could be fetched, or none started in the period.",
    "In progress: the server's latest execution is pending or running.",
    "Non-compliant: for some patch the latest attempt on the server ended Failed, Aborted or "
    "Not started, or the latest execution failed. A patch is known by its primary KB number; a "
    "Linux package by its name and architecture, whatever the version (a newer release that "
    "installs replaces an older one that failed); anything else by its title.",
    "Compliant: otherwise. Succeeded-with-errors and reboot-required attempts count as "
    "compliant and are flagged as warnings.",
    "A completed execution with no patches means the server was already up to date.",
    "Fleet compliance % = compliant servers / all servers in the inventory (No data counts "
    "against it).",
    "With a period, the figures cover executions that started in that month (UTC); an "
    "execution listed in the inventory that started outside it is listed under problems.",
]
