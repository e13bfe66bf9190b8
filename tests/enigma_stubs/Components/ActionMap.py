"""Stand-in for Components.ActionMap; tests fire actions through plugin_harness.press()."""


class ActionMap:
    def __init__(self, contexts=None, actions=None, prio=0):
        self.contexts = [contexts] if isinstance(contexts, str) else list(contexts or [])
        self.actions = dict(actions or {})
        self.prio = prio
        self.enabled = True

    def setEnabled(self, enabled):
        self.enabled = enabled

    def execBegin(self):
        pass

    def execEnd(self):
        pass

    def action(self, context, action):
        if action in self.actions:
            func = self.actions[action]
            if isinstance(func, tuple):  # HelpableActionMap: (function, help text)
                func = func[0]
            result = func()
            return 1 if result is None else result
        return 0


class NumberActionMap(ActionMap):
    pass


class HelpableActionMap(ActionMap):
    def __init__(self, parent, contexts=None, actions=None, prio=0, description=None):
        ActionMap.__init__(self, contexts, actions, prio)
        self.parent = parent


class HelpableNumberActionMap(HelpableActionMap):
    pass
